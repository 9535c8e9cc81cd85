"""Tutorial 9: uploading a file (multipart form) and sending one as a download.

Run with: python examples/tutorial/tut09_files.py   then open http://127.0.0.1:8080/
"""

import os
from typing import Any

import cherrypy_rs as cherrypy
from cherrypy_rs.lib import static

DOWNLOAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "download_sample.txt")


class FileDemo:
    @cherrypy.expose
    def index(self) -> str:
        return (
            "<html><body><h2>Upload a file</h2>"
            '<form action="upload" method="post" enctype="multipart/form-data">'
            'filename: <input type="file" name="myFile" /><br /><input type="submit" />'
            "</form><h2>Download a file</h2><a href='download'>This one</a></body></html>"
        )

    @cherrypy.expose
    def upload(self, myFile: Any) -> str:
        size = 0
        while chunk := myFile.file.read(8192):
            size += len(chunk)
        return (
            f"<html><body>myFile length: {size}<br />myFile filename: {myFile.filename}<br />"
            f"myFile mime-type: {myFile.content_type}</body></html>"
        )

    @cherrypy.expose
    def download(self) -> Any:
        return static.serve_file(
            DOWNLOAD, "application/x-download", "attachment", os.path.basename(DOWNLOAD)
        )


def root() -> FileDemo:
    return FileDemo()


if __name__ == "__main__":
    cherrypy.quickstart(root(), "/", {"global": {"server.socket_port": 8080}})
