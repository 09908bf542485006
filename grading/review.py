"""Review what needs a human look: vae-teacher review CLASS_RESULTS [--reviewer NAME] [--port N]

A page in your browser, served on the loopback address only (127.0.0.1) with a secret token in
its address: it lists every part of the class that needs a person (partial credit, a verdict that
says "needs a human look", an override whose automatic result has changed since), and shows each
in turn: the student's code for the part, the grader's messages, the images their run made, the
automatic points. You set the points (0 to the part's maximum) and say why; it is saved at once
in CLASS_RESULTS/overrides.json (grading/overrides.py), and grades.csv, the class report, the
feedback pages and the exports are made again. Stop it with Ctrl-C: nothing is lost.

A server rather than a static page: a static page cannot write a file, so the teacher would have
to carry a download back by hand; a server on 127.0.0.1 with a token is reachable by no one else
on the network, and no other page in the browser can post to it without the token.
"""
import argparse
import base64
import getpass
import hmac
import html
import secrets
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from grading import class_report, classroom, excerpts, overrides as hand, results

e = html.escape


class Review:
    """The class being reviewed: its items, read again after every change."""

    def __init__(self, json_dir, reviewer, log=print):
        self.json_dir, self.reviewer, self.log = Path(json_dir), reviewer, log
        self.lock = threading.Lock()
        self.table = results.load_points()

    def items(self):
        return hand.for_class(self.json_dir, self.table)

    def save(self, name, part, points, comment, reviewer):
        """Set the part's points; the part is named (not numbered), so a list that changed since the
        page was opened cannot put the points on another student's part."""
        with self.lock:
            items, entries = self.items()
            item = next((i for i in items if i["name"] == name and i["part"] == part), None)
            if item is None:
                raise IndexError(part)
            hand.set_points(self.json_dir, item["name"], item["part"], points, comment, reviewer,
                            entries[item["name"]]["result"], self.table)
            try:
                classroom.refresh(self.json_dir, log=lambda line: None)
            except Exception as error:   # the override is kept; what is made from it can be made again
                self.log("review: saved, but the class's files could not be made again: %s (vae-teacher report "
                         "%s)" % (error, self.json_dir))
            return item


PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title><style>
body {{ font-family: sans-serif; margin: 1.5em; max-width: 75em; color: #222; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd; padding: .3em .7em; text-align: left;
vertical-align: top; }} pre {{ background: #f6f6f6; padding: .7em; overflow: auto; max-height: 30em; }}
pre.message {{ white-space: pre-wrap; }}
.stale {{ color: #a33; }} .done {{ color: #383; }} .saved {{ background: #e7f5e7; padding: .5em; }}
.figures img {{ margin: .3em; border: 1px solid #ccc; }} label {{ display: block; margin-top: .5em; }}
</style></head><body>{body}</body></html>"""


def list_page(review, token, note=""):
    items, _ = review.items()
    left = len(hand.pending(items))
    rows = "".join(
        "<tr><td><a id='item-{i}' href='/item/{i}?token={t}'>{name}</a></td><td>{part} <code>{fn}</code></td>"
        "<td>{auto} / {max}</td><td class='{cls}'>{state}</td><td>{why}</td></tr>".format(
            i=i, t=token, name=e(item["name"]), part=item["part"], fn=item["function"],
            auto=results.num(item["automatic"]), max=results.num(item["maximum"]),
            cls={"by hand": "done", "stale": "stale"}.get(item["how"], ""),
            state={"by hand": "set by hand: %s" % results.num(item["points"]),
                   "stale": "changed since review"}.get(item["how"], "to review"),
            why=e("; ".join(item["reasons"]))) for i, item in enumerate(items))
    body = ("<h1>Review</h1>%s<p id='left'>%d of %d parts left to review.</p><table><tr><th>submission</th>"
            "<th>part</th><th>automatic</th><th>state</th><th>why</th></tr>%s</table>"
            % (note, left, len(items), rows or "<tr><td colspan=5>nothing needs a human look</td></tr>"))
    return PAGE.format(title="Review", body=body)


def item_page(review, index, token, error=""):
    items, entries = review.items()
    item = items[index]
    entry = entries[item["name"]]
    result = entry["result"]
    observed = (result["extra_data"].get("formats") or {}).get(item["part"]) == "observed"
    code = excerpts.part_code(review.json_dir / entry.get("graded", "graded/" + entry["id"]), item["part"],
                              item["function"], observed)
    messages = "".join("<li><b>%s</b> %s / %s<pre class='message'>%s</pre></li>" % (
        e(t["name"].split(": ", 1)[-1]), results.num(t["score"]), results.num(t["max_score"]), e(t["output"]))
        for t in hand.part_tests(result, item["part"]))
    images = "".join("<figure><img alt='%s' src='data:image/png;base64,%s'><figcaption>%s</figcaption></figure>"
                     % (e(image["title"]), base64.b64encode(image["png"]).decode(), e(image["title"]))
                     for image in class_report.student_images(review.json_dir, entry["id"])
                     if image["part"] == item["part"])
    override = item["override"] or {}
    student = (entry.get("student") or {}).get("student")
    value = results.num(override["points"]) if override else results.num(item["automatic"])
    next_link = "<a href='/item/%d?token=%s'>next</a>" % (index + 1, token) if index + 1 < len(items) else ""
    body = """<p><a href='/?token={t}'>all parts</a> {next}</p>
<h1>{name}{student}: part {part} {fn}</h1>
<p>Automatic points: <b id='automatic'>{auto}</b> of {max}. Why it is here: {why}.</p>
{previous}{error}
<form method='post' action='/item/{i}'>
<input type='hidden' name='token' value='{t}'>
<input type='hidden' name='name' value='{name}'><input type='hidden' name='part' value='{part}'>
<label>Points (0 to {max}) <input id='points' name='points' type='number' min='0' max='{max}' step='any' value='{value}' required></label>
<label>Why (the student sees this in their feedback)<br><textarea id='comment' name='comment' rows='3' cols='80'>{comment}</textarea></label>
<label>Reviewer <input id='reviewer' name='reviewer' value='{reviewer}' required></label>
<p><button id='save' type='submit'>Save</button></p></form>
<h2>The grader's messages</h2><ul>{messages}</ul>
<h2>The images</h2><div class='figures'>{images}</div>
<h2>The code: {what} ({file})</h2><pre id='code'>{code}</pre>{whole}""".format(
        t=token, next=next_link, name=e(item["name"]), student=" (%s)" % e(student) if student else "",
        part=item["part"], fn="%s, in the script's own code" % excerpts.WHAT.get(item["part"], "")
        if observed else "<code>%s</code>" % item["function"], auto=results.num(item["automatic"]), max=results.num(item["maximum"]),
        why=e("; ".join(item["reasons"])), i=index, value=value, comment=e(override.get("comment", "")),
        reviewer=e(override.get("reviewer") or review.reviewer), messages=messages,
        images=images or "<p>none: the part made no images</p>", file=e(code.file or "-"), code=e(code.text), what=e(code.what),
        whole="<details><summary>the whole %s</summary><pre id='whole'>%s</pre></details>" % (
            e(code.where), e(code.whole)) if code.whole else "",
        previous="<p class='%s'>Set by hand: %s by %s at %s.</p>" % (
            "stale" if item["how"] == "stale" else "done", results.num(override["points"]), e(override["reviewer"]),
            e(override["time"])) if override else "",
        error="<p class='stale' id='error'>%s</p>" % e(error) if error else "")
    return PAGE.format(title="Review: %s %s" % (e(item["name"]), item["part"]), body=body)


def make_handler(review, token, port):
    allowed_hosts = {"127.0.0.1:%d" % port, "localhost:%d" % port}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):   # quiet: the terminal shows what was saved
            pass

        def send(self, status, text, content_type="text/html; charset=utf-8", location=None):
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.send_header("Referrer-Policy", "no-referrer")   # the token stays here
            self.send_header("Content-Security-Policy", "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                                                        "form-action 'self'")
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(data)

        def allowed(self, given):
            # Another site's page cannot know the token, and a name that resolves here (DNS rebinding)
            # is not this host.
            return self.headers.get("Host") in allowed_hosts and hmac.compare_digest(given or "", token)

        def route(self):
            url = urlsplit(self.path)
            parts = [p for p in url.path.split("/") if p]
            return url, parts

        def do_GET(self):
            url, parts = self.route()
            if not self.allowed(parse_qs(url.query).get("token", [""])[0]):
                return self.send(403, "forbidden: open the address vae-teacher review printed", "text/plain")
            if not parts:
                return self.send(200, list_page(review, token))
            if len(parts) == 2 and parts[0] == "item" and parts[1].isdigit():
                try:
                    return self.send(200, item_page(review, int(parts[1]), token))
                except IndexError:
                    return self.send(404, "no such part to review", "text/plain")
            return self.send(404, "not found", "text/plain")

        def do_POST(self):
            url, parts = self.route()
            length = int(self.headers.get("Content-Length") or 0)
            if length > 100_000:
                return self.send(413, "too long", "text/plain")
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("utf-8", "replace")).items()}
            if not self.allowed(form.get("token")):
                return self.send(403, "forbidden", "text/plain")
            if not (len(parts) == 2 and parts[0] == "item" and parts[1].isdigit()):
                return self.send(404, "not found", "text/plain")
            try:
                item = review.save(form.get("name"), form.get("part"), form.get("points", ""), form.get("comment", ""),
                                   form.get("reviewer", ""))
            except IndexError:
                return self.send(404, "no such part to review", "text/plain")
            except ValueError as error:
                items, _ = review.items()   # the part's page as the list is now (it may have moved)
                index = next((i for i, it in enumerate(items) if (it["name"], it["part"]) ==
                              (form.get("name"), form.get("part"))), None)
                if index is None:
                    return self.send(404, "no such part to review", "text/plain")
                return self.send(400, item_page(review, index, token, error="not saved: %s" % error))
            review.log("saved: %s part %s = %s points (%s)" % (item["name"], item["part"], form.get("points"),
                                                              form.get("reviewer")))
            note = "<p class='saved' id='saved'>Saved: %s, part %s, %s points.</p>" % (
                e(item["name"]), item["part"], e(form.get("points", "")))
            return self.send(200, list_page(review, token, note))

    return Handler


def serve(json_dir, reviewer, port=0, log=print, ready=None):
    """Serve the review page until interrupted; ready(url) is called once it listens."""
    token = secrets.token_urlsafe(24)
    server = ThreadingHTTPServer(("127.0.0.1", port), None)
    review = Review(json_dir, reviewer, log)
    server.RequestHandlerClass = make_handler(review, token, server.server_address[1])
    url = "http://127.0.0.1:%d/?token=%s" % (server.server_address[1], token)
    (ready or (lambda u: None))(url)
    log("review page: %s\n(open it in your browser; Ctrl-C stops the server: every saved part is kept)" % url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        log("\nreview stopped; the overrides are in %s" % (Path(json_dir) / hand.FILE))
    finally:
        server.server_close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="vae-teacher review", description=__doc__.split("\n\n")[0],
                                     epilog="It prints the page's address (127.0.0.1 only, with a secret token): "
                                     "open it in your browser. Each save goes at once to CLASS_RESULTS/"
                                     "overrides.json, and grades.csv, the class report, the feedback and the "
                                     "exports are made again. Ctrl-C stops it; nothing is lost.")
    parser.add_argument("json_dir", metavar="CLASS_RESULTS", help="grade-class's --json-dir")
    parser.add_argument("--reviewer", default=None, help="your name, recorded with each part you set "
                                                         "(default: your user name)")
    parser.add_argument("--port", type=int, default=0, help="the port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    if class_report.load_manifest(args.json_dir) is None:
        print("review: error: %s holds no graded class (class.json): vae-teacher grade-class SUBMISSIONS "
              "--json-dir %s first" % (args.json_dir, args.json_dir), file=sys.stderr)
        return 1
    if not 0 <= args.port < 65536:
        parser.error("--port must be between 0 and 65535")
    try:
        serve(args.json_dir, args.reviewer or getpass.getuser(), args.port, log=lambda line: print(line, flush=True))
    except OSError as error:
        print("review: error: cannot listen on 127.0.0.1:%d: %s" % (args.port, error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
