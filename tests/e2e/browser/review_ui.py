#!/usr/bin/python3
"""Drives the Palisade review UI in headless Chromium over the DevTools protocol:
sign in, open the held message, release it with a reason. Saves screenshots of the
list and the message view and prints one JSON object with what it saw.

Usage: review_ui.py URL USER PASSWORD SUBJECT SHOTS_DIR
Needs: chromium, python3-websocket (Debian packages).
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Browser:
    def __init__(self):
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="palisade-chromium-")
        self.proc = subprocess.Popen(
            [
                "chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--hide-scrollbars", "--window-size=1280,900",
                f"--remote-debugging-port={self.port}", f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        target = None
        deadline = time.time() + 30
        while time.time() < deadline and target is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=2) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                    if pages:
                        target = pages[0]
            except OSError:
                time.sleep(0.2)
        if target is None:
            self.close()
            raise RuntimeError("chromium did not start its DevTools endpoint")
        self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"script failed: {expr}: {r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    def wait(self, expr, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.eval(expr):
                    return
            except RuntimeError:
                pass  # mid-navigation
            time.sleep(0.1)
        raise RuntimeError(
            f"timed out waiting for {what}; at {self.eval('location.href')}: "
            + str(self.eval("document.body ? document.body.innerText.slice(0, 400) : ''"))
        )

    def goto(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && location.href !== 'about:blank'", url)

    def shot(self, path):
        r = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        import base64
        with open(path, "wb") as f:
            f.write(base64.b64decode(r["data"]))

    def close(self):
        try:
            self.proc.terminate()
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def main():
    url, user, password, subject, shots = sys.argv[1:6]
    os.makedirs(shots, exist_ok=True)
    b = Browser()
    seen = {}
    try:
        b.goto(url + "/quarantine")
        seen["redirected_to_login"] = b.eval("location.pathname") == "/login"
        b.eval(f"""
            document.querySelector('input[name=user]').value = {json.dumps(user)};
            document.querySelector('input[name=password]').value = {json.dumps(password)};
            document.querySelector('form button[type=submit]').click();
        """)
        b.wait("location.pathname === '/quarantine' && document.readyState === 'complete'", "the list")
        seen["list_has_subject"] = b.eval(f"document.body.innerText.includes({json.dumps(subject)})")
        seen["list_rows"] = b.eval("document.querySelectorAll('table.list tbody tr').length")
        b.shot(os.path.join(shots, "quarantine-list.png"))
        b.eval("document.querySelector('table.list tbody td a').click()")
        b.wait("location.pathname.startsWith('/quarantine/') && document.readyState === 'complete'", "the message")
        seen["message_url"] = b.eval("location.pathname")
        seen["explanation"] = b.eval("document.querySelector('.why .summary').innerText")
        seen["findings"] = b.eval("document.querySelectorAll('.why .findings li').length")
        # Nothing from the message can run: the page carries no script at all.
        seen["page_scripts"] = b.eval("document.scripts.length")
        seen["title"] = b.eval("document.title")
        b.shot(os.path.join(shots, "quarantine-message.png"))
        b.eval("""
            const f = document.querySelector('form[action$="/release"]');
            f.querySelector('input[name=reason]').value = 'Checked with the sender by phone; browser test';
            f.querySelector('button[type=submit]').click();
        """)
        b.wait("location.pathname === '/quarantine' && location.search.includes('done=') && document.readyState === 'complete'", "the release")
        seen["after_release"] = b.eval("document.querySelector('.notice') ? document.querySelector('.notice').innerText : ''")
    finally:
        b.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
