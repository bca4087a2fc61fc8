#!/usr/bin/python3
"""Drives the Palisade review UI in headless Chromium over the DevTools protocol, as a
clerk would: follows a link to a held message while signed out, mistypes the password,
searches the list, releases one message to all its recipients (double-clicking the
confirmation), another to one recipient, deletes a third and goes Back, then reads the
audit log filtered by message and by person. Saves screenshots of the list, a message,
the confirmation and the audit log, and prints one JSON object with what it saw.

Usage: review_ui.py URL USER PASSWORD SHOTS_DIR IDS_JSON
  IDS_JSON: {"two": id, "scripted": id, "spanish": id, "newest": id}
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
                if self.eval(f"!!({expr})"):
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
    url, user, password, shots, ids = sys.argv[1:6]
    ids = json.loads(ids)
    os.makedirs(shots, exist_ok=True)
    b = Browser()
    seen = {}
    loaded = "document.readyState === 'complete'"

    def text(sel):
        return b.eval(f"(document.querySelector({json.dumps(sel)}) || {{innerText: ''}}).innerText")

    def submit(form_sel, button_sel):
        b.eval(f"document.querySelector({json.dumps(form_sel)}).querySelector({json.dumps(button_sel)}).click()")

    try:
        # A link to a message, followed while signed out, comes back to it after sign-in.
        two = ids["two"]
        b.goto(f"{url}/quarantine/{two}")
        seen["redirected_to_login"] = b.eval("location.pathname") == "/login"
        b.eval(f"""
            document.querySelector('input[name=user]').value = {json.dumps(user)};
            document.querySelector('input[name=password]').value = 'not the password';
            document.querySelector('form button[type=submit]').click();
        """)
        b.wait(f"document.querySelector('.error') && {loaded}", "the sign-in error")
        seen["login_error"] = text(".error")
        seen["user_kept"] = b.eval("document.querySelector('input[name=user]').value")
        b.eval(f"""
            document.querySelector('input[name=password]').value = {json.dumps(password)};
            document.querySelector('form button[type=submit]').click();
        """)
        b.wait(f"location.pathname.startsWith('/quarantine/') && {loaded}", "the message after sign-in")
        seen["after_login"] = b.eval("location.pathname")

        # The list, and searching it by a display name, a queue id, a bad number.
        b.goto(url + "/quarantine")
        seen["list_rows"] = b.eval("document.querySelectorAll('table.list > tbody.group').length")
        seen["copies"] = b.eval("[...document.querySelectorAll('tr.copies summary')].map(s => s.innerText)")
        seen["copies_text"] = b.eval("[...document.querySelectorAll('tr.copies table')].map(t => t.textContent).join(' ')")
        seen["list_text"] = text("table.list")
        b.shot(os.path.join(shots, "quarantine-list.png"))
        b.goto(url + "/quarantine?q=County+Clerk")
        seen["search_name_rows"] = b.eval("document.querySelectorAll('table.list > tbody > tr').length")
        b.goto(url + "/quarantine?q=" + ids["newest"])
        seen["search_id_rows"] = b.eval("document.querySelectorAll('table.list > tbody > tr').length")
        seen["search_id_text"] = text("table.list")
        b.goto(url + "/quarantine?min_score=abc")
        seen["bad_filter"] = text(".error")

        # One message, read.
        b.goto(f"{url}/quarantine/{two}")
        seen["explanation"] = text(".why .summary")
        seen["score"] = b.eval("[...document.querySelectorAll('.facts dt')].find(d => d.innerText === 'Score').nextElementSibling.innerText")
        # What a clerk reads (outside the administrator's fold) carries no slot names.
        seen["slot_names_shown"] = b.eval("/\\b[a-z]+_[a-z_]+\\b/.test(document.querySelector('.why .findings').innerText)")
        # Nothing from the message can run: the only script is the page's own file.
        seen["page_scripts"] = b.eval("[...document.scripts].map(s => new URL(s.src).pathname)")
        seen["title"] = b.eval("document.title")
        b.shot(os.path.join(shots, "quarantine-message.png"))

        # Release to all: a confirmation listing who will receive it, then a double click.
        b.eval("""
            const f = document.querySelector('form[action$="/release"]');
            f.querySelector('input[name=scope][value=all]').checked = true;
            f.querySelector('input[name=reason]').value = 'Checked with the sender by phone; browser test';
            f.querySelector('#release').click();
        """)
        b.wait(f"document.querySelector('.confirm') && {loaded}", "the release confirmation")
        seen["confirm_recipients"] = b.eval("[...document.querySelectorAll('.confirm ul.recipients li')].map(l => l.innerText)")
        b.shot(os.path.join(shots, "quarantine-confirm.png"))
        b.eval("const c = document.querySelector('#confirm'); c.click(); c.click();")
        b.wait(f"!document.querySelector('.confirm') && {loaded} && (document.querySelector('.notice') || document.querySelector('.outcome'))", "the release")
        seen["after_double_submit"] = b.eval("[...document.querySelectorAll('.notice, .outcome')].map(e => e.innerText).join(' | ')")

        # Release to one recipient of the Spanish threat.
        spanish = ids["spanish"]
        b.goto(f"{url}/quarantine/{spanish}")
        seen["spanish_findings"] = text(".why .findings")
        seen["spanish_subject"] = text("h1.subject")
        b.eval("""
            const f = document.querySelector('form[action$="/release"]');
            f.querySelector('input[name=recipient][value="registro@county.example"]').checked = true;
            f.querySelector('input[name=reason]').value = 'Registro keeps threats for the sheriff';
            f.querySelector('#release').click();
        """)
        b.wait(f"document.querySelector('.confirm') && {loaded}", "the confirmation for one")
        seen["one_confirm_recipients"] = b.eval("[...document.querySelectorAll('.confirm ul.recipients li')].map(l => l.innerText)")
        b.eval("document.querySelector('#confirm').click()")
        b.wait(f"!document.querySelector('.confirm') && document.querySelector('.notice') && {loaded}", "the release to one")
        seen["one_notice"] = text(".notice")
        seen["served_disabled"] = b.eval("""
            [...document.querySelectorAll('form[action$="/release"] label')]
              .some(l => l.innerText.includes('registro@county.example') && l.querySelector('input[type=checkbox]').disabled)
        """)
        b.goto(url + "/quarantine")
        seen["list_after_one"] = text("table.list")

        # Delete, then Back to the deleted message's page.
        scripted = ids["scripted"]
        b.goto(f"{url}/quarantine/{scripted}")
        b.eval("""
            const f = document.querySelector('form[action$="/delete"]');
            f.querySelector('input[name=reason]').value = 'Duplicate of a reported threat';
            f.querySelector('#delete').click();
        """)
        b.wait(f"document.querySelector('.confirm') && {loaded}", "the delete confirmation")
        seen["delete_confirm"] = text(".confirm")
        b.eval("document.querySelector('#confirm').click()")
        b.wait(f"location.pathname === '/quarantine' && {loaded} && document.querySelector('.notice')", "the delete")
        seen["after_delete"] = text(".notice")
        b.eval("history.go(-2)")
        b.wait(f"location.pathname === '/quarantine/{scripted}' && {loaded} && document.querySelector('.outcome')", "the page after Back")
        seen["back_after_delete"] = text(".outcome")
        seen["back_after_delete_forms"] = b.eval("document.querySelectorAll('form[action*=\"/quarantine/\"]').length")

        # The audit log, by message and by person.
        b.goto(f"{url}/audit?queue_id={scripted}")
        seen["audit_message"] = text("table.audit")
        seen["audit_message_other_ids"] = b.eval(f"[...document.querySelectorAll('table.audit tr td:nth-child(5)')].filter(td => td.innerText !== {json.dumps(scripted)}).length")
        b.goto(f"{url}/audit?actor={user}")
        seen["audit_person_rows"] = b.eval("document.querySelectorAll('table.audit tr td:nth-child(3)').length")
        seen["audit_person_others"] = b.eval(f"[...document.querySelectorAll('table.audit tr td:nth-child(3)')].filter(td => td.innerText !== {json.dumps(user)}).length")
        b.shot(os.path.join(shots, "quarantine-audit.png"))
    finally:
        b.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
