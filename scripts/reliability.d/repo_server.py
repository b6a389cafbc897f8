"""A Maven repository on 127.0.0.1 for scripts/reliability: serves a folder read-only, and while
the file named by --rate-file holds a number, sends every body at that many bytes per second
(a slow server, so that a download can be killed halfway).

    python3 repo_server.py ROOT PORT_FILE RATE_FILE

It binds port 0 and writes the port it got to PORT_FILE.
"""

import functools
import http.server
import os
import sys
import time


class Handler(http.server.SimpleHTTPRequestHandler):
    rate_file = ""

    def log_message(self, *args):
        pass

    def rate(self):
        try:
            with open(self.rate_file) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def copyfile(self, source, outputfile):
        rate = self.rate()
        if rate <= 0:
            return super().copyfile(source, outputfile)
        chunk = max(1, rate // 20)
        while True:
            data = source.read(chunk)
            if not data:
                return
            outputfile.write(data)
            outputfile.flush()
            time.sleep(0.05)


def main():
    root, port_file, rate_file = sys.argv[1:4]
    Handler.rate_file = rate_file
    handler = functools.partial(Handler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
