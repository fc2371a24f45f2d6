"""A real SMTP server for the notify tests (aiosmtpd): every message it accepts is
written to DIR as one .eml file, its envelope recipients in a first X-Envelope-To line.

usage: smtp_sink.py PORT DIR [DIE_AFTER]
With DIE_AFTER, the process exits (as if it crashed) when a further message starts after
that many were accepted: the server goes down in the middle of a burst.
"""

import os
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out, die_after):
        self.out = out
        self.die_after = die_after
        self.accepted = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.die_after is not None and self.accepted >= self.die_after:
            os._exit(0)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.accepted += 1
        path = os.path.join(self.out, "%d-%06d.eml" % (os.getpid(), self.accepted))
        with open(path + ".tmp", "wb") as f:
            f.write(("X-Envelope-To: " + ",".join(envelope.rcpt_tos) + "\r\n").encode())
            f.write(envelope.original_content or envelope.content)
        os.rename(path + ".tmp", path)
        return "250 Message accepted"


def main():
    port = int(sys.argv[1])
    out = sys.argv[2]
    die_after = int(sys.argv[3]) if len(sys.argv) > 3 else None
    os.makedirs(out, exist_ok=True)
    controller = Controller(Sink(out, die_after), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
