"""HTTPS and HTTP/2 with CherryPy's ssl keys; the page shows what TLS negotiated.

Run with: python -m trustme && python examples/https.py server.pem server.key
(then: curl --cacert client.pem https://localhost:8443/ ; add --http2 for HTTP/2)
"""

import sys

import cherrypy_rs as cherrypy


class Root:
    @cherrypy.expose
    def index(self):
        request = cherrypy.request
        ssl = request.ssl or {}
        return (
            f"{request.request_line} via {request.scheme}, "
            f"{ssl.get('SSL_PROTOCOL', 'no TLS')} {ssl.get('SSL_CIPHER', '')}\n"
        )


if __name__ == "__main__":
    certificate, key = sys.argv[1:3]
    cherrypy.quickstart(
        Root(),
        "/",
        {
            "global": {
                "server.socket_port": 8443,
                "server.ssl_certificate": certificate,
                "server.ssl_private_key": key,
            }
        },
    )
