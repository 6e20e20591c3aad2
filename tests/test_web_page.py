"""The operator page for a whole night, through a real server, real consumers
(the stand-in extractor) and a real HTTP client: counters by outcome that
filter, paging, search by file name, retry and cancel (one job and in bulk),
/page.json, the consumers panel, the chart and the sky map."""
import json
import re
import signal

import httpx
import pytest

from support import Env, WebServer, submit_many, wait_until

TERMINAL = ("done", "error", "cancelled")


@pytest.fixture
def web(env):
    server = WebServer(Env(env))
    yield server
    server.stop()


def board(web, **query):
    reply = httpx.get(web.url + "/page.json", params=query, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()


def ids(doc):
    return [job["job_id"] for job in doc["jobs"]]


def finish(env, job_ids):
    for job_id in job_ids:
        assert env.wait(job_id)["state"] in TERMINAL


def test_counters_filter_page_and_search(env, web, images, consumers):
    consumers(env)
    solved = submit_many(env, images("ok"), 25)
    unsolved = [env.submit(images("unsolved", f"-{n}")) for n in range(2)]
    failed = env.submit(images("fail"))
    finish(env, solved + unsolved + [failed])
    hangs = [env.submit(images("hang", f"-{n}")) for n in range(2)]
    for job_id in hangs:
        env.wait_for(job_id, lambda s: s["state"] == "processing", what="processing")
    queued = env.submit(images("ok", "-late"))  # both workers are busy: it waits

    doc = board(web)
    assert {k: doc["counts"][k] for k in ("queued", "processing", "solved", "unsolved",
                                          "error", "cancelled", "total")} == {
        "queued": 1, "processing": 2, "solved": 25, "unsolved": 2, "error": 1,
        "cancelled": 0, "total": 31}
    assert sorted(j["job_id"] for j in doc["running"]) == sorted(hangs)

    doc = board(web, state="unsolved")
    assert sorted(ids(doc)) == sorted(unsolved) and doc["filter"]["matching"] == 2
    assert all(j["outcome"] == "unsolved" and j["retry"] and j["explanation"]
               for j in doc["jobs"])
    first, second = board(web, state="solved"), board(web, state="solved", page=2)
    assert (first["filter"]["pages"], len(first["jobs"]), len(second["jobs"])) == (2, 24, 1)
    assert sorted(ids(first) + ids(second)) == sorted(solved)
    assert board(web, state="solved", page=99)["filter"]["page"] == 2
    assert sorted(ids(board(web, q="UNSOLVED"))) == sorted(unsolved)
    assert ids(board(web, q="hang", state="queued")) == []
    assert ids(board(web, q="late")) == [queued]

    page = httpx.get(web.url + "/", params={"state": "solved", "q": "ok"}).text
    assert 'href="/?state=unsolved&amp;q=ok"' in page and 'rel="next"' in page
    assert 'href="/?state=solved&amp;q=ok&amp;page=2"' in page
    assert page.count('class="card state-solved"') == 24
    for bad in ({"state": "bogus"}, {"page": "x"}):
        assert httpx.get(web.url + "/", params=bad).status_code == 400
        reply = httpx.get(web.url + "/page.json", params=bad)
        assert reply.status_code == 400 and reply.json()["status"] == "error"
    for job_id in hangs:
        env.run("cancel", "--job-id", job_id)


def test_retry_and_cancel_one_job_and_in_bulk(env, web, images, consumers):
    consumers(env)
    unsolved, failed, solved = (env.submit(images(mode)) for mode in ("unsolved", "fail", "ok"))
    finish(env, [unsolved, failed, solved])
    hangs = [env.submit(images("hang", f"-{n}")) for n in range(2)]
    for job_id in hangs:
        env.wait_for(job_id, lambda s: s["state"] == "processing", what="processing")

    with httpx.Client(base_url=web.url, timeout=30) as browser:
        reply = browser.post("/jobs/bulk", data={"action": "cancel", "job": hangs},
                             headers={"Accept": "application/json"})
        assert reply.status_code == 200, reply.text
        assert sorted(reply.json()["changed"]) == sorted(hangs)
        assert [env.status(j)["state"] for j in hangs] == ["cancelled", "cancelled"]

        reply = browser.post("/jobs/bulk", data={
            "action": "retry", "job": [unsolved, failed, solved, hangs[0], "0" * 32],
            "back": "/?state=error"})
        assert reply.status_code == 303
        assert reply.headers["location"].startswith("/?state=error&done=retry")
        notice = browser.get(reply.headers["location"]).text
        assert "retry: 3 changed, 2 refused" in notice
        for job_id in (unsolved, failed, hangs[0]):
            assert env.status(job_id)["attempts"] == 2
        assert env.status(solved)["attempts"] == 1

        assert browser.post(f"/jobs/{hangs[1]}/retry").status_code == 303
        assert env.status(hangs[1])["attempts"] == 2
        env.wait_for(hangs[1], lambda s: s["state"] == "processing", what="processing")
        assert browser.post(f"/jobs/{hangs[1]}/cancel").status_code == 303
        assert env.status(hangs[1])["state"] == "cancelled"
        refused = browser.post(f"/jobs/{solved}/retry")
        assert refused.status_code == 400 and "solved" in refused.text

        elsewhere = {"Origin": "http://evil.test"}
        for path in ("/jobs/bulk", f"/jobs/{failed}/retry", f"/jobs/{failed}/cancel"):
            assert browser.post(path, data={"action": "retry", "job": failed},
                                headers=elsewhere).status_code == 403
        assert browser.get("/jobs/bulk").status_code == 400  # read as a job page: no such id
        assert browser.get(f"/jobs/{failed}/retry").status_code == 405
        for form in ({"action": "delete", "job": failed}, {"action": "retry"},
                     {"action": "retry", "job": [f"x{n}" for n in range(501)]}):
            assert browser.post("/jobs/bulk", data=form).status_code == 400
        assert browser.post("/jobs/bulk", content=b"job=" + b"a" * 70000,
                            headers={"Content-Type": "application/x-www-form-urlencoded"}
                            ).status_code == 400
    for job_id in hangs:
        env.run("cancel", "--job-id", job_id)
    assert "Traceback" not in web.output()


def test_consumers_panel_with_and_without_a_live_consumer(env, web, images, consumers):
    doc = board(web)
    assert doc["consumers"]["alive"] == 0 and "No consumer is alive" in \
        doc["consumers"]["warning"]
    assert 'id="no-consumer"' in httpx.get(web.url + "/").text
    job_id = env.submit(images("hang"))

    consumer = consumers(env)
    env.wait_for(job_id, lambda s: s["state"] == "processing", what="processing")
    doc = wait_until(lambda: (lambda d: d if d["consumers"]["alive"] == 1 else None)(
        board(web)), 20, 0.2)
    assert doc, board(web)["consumers"]
    (one,) = doc["consumers"]["consumers"]
    assert (one["pid"], one["workers"], one["running"]) == (consumer.proc.pid, 2, [job_id])
    assert doc["consumers"]["warning"] is None
    page = httpx.get(web.url + "/").text
    assert 'id="no-consumer"' not in page and f'href="/jobs/{job_id}">{job_id[:8]}' in page
    assert re.search(r'<time datetime="[^"]+" title="[^"]+ UTC">(just now|\d+ s ago)</time>',
                     page)

    consumer.send(signal.SIGKILL)
    consumer.proc.wait(10)
    doc = wait_until(lambda: (lambda d: d if d["consumers"]["alive"] == 0 else None)(
        board(web)), 20, 0.2)
    assert doc and doc["consumers"]["warning"] and not doc["consumers"]["consumers"][0]["alive"]


def test_page_json_has_the_pages_sections_chart_and_sky_map(env, web, images, consumers):
    consumers(env)
    solved = env.submit(images("sky"))
    failed = env.submit(images("fail"))
    finish(env, [solved, failed])
    doc = board(web)
    assert set(doc["html"]) == {"counts", "consumers", "running", "jobs", "chart", "sky"}
    assert f'data-job="{solved}"' in doc["html"]["jobs"]
    page = httpx.get(web.url + "/").text
    for name in doc["html"]:
        assert f'data-live="{name}"' in page
    assert '<script src="/static/page.js" defer>' in page and "http-equiv" not in page
    assert httpx.get(web.url + "/static/page.js").status_code == 200

    ended = sum(b["solved"] + b["unsolved"] + b["error"] + b["cancelled"]
                for b in doc["activity"])
    assert (len(doc["activity"]), ended) == (24, 2)
    assert (doc["activity"][-1]["error"], doc["activity"][-1]["solved"]) == (1, 1)
    assert doc["chart"]["errors"] == 1 and 'class="bar-error"' in doc["html"]["chart"]

    (field,) = doc["sky"]
    assert field["job_id"] == solved and (field["ra"], field["dec"]) == (187.184406, 56.710979)
    # RA 12.5 h lies just left of the map's centre (RA grows to the left), Dec +57 high up.
    assert 170 < field["x"] < 180 and 20 < field["y"] < 50
    assert f'data-job="{solved}"' in doc["html"]["sky"]

    job_page = httpx.get(f"{web.url}/jobs/{solved}").text
    for viewer in ("aladin.cds.unistra.fr/AladinLite", "worldwidetelescope.org",
                   "legacysurvey.org/viewer?ra=187.18441"):
        assert viewer in job_page
    thumb = httpx.get(f"{web.url}/jobs/{failed}/files/thumbnail")
    assert thumb.status_code == 200 and thumb.content[:2] == b"\xff\xd8"
    assert 'class="thumb dim"' in doc["html"]["jobs"]


def test_anonymous_readers_see_no_private_job_anywhere_on_the_page(env, images, consumers):
    key = "night-key"
    web = WebServer(Env(env, ASTRO_JOBS_API_KEY=key))
    try:
        consumers(env)
        reply = httpx.post(web.url + "/api/login",
                           data={"request-json": json.dumps({"apikey": key})})
        session = reply.json()["session"]
        hidden = {}
        for mode in ("hang", "sky"):
            with open(images(mode), "rb") as handle:
                doc = httpx.post(web.url + "/api/upload", files={"file": (f"{mode}.png", handle)},
                                 data={"request-json": json.dumps(
                                     {"session": session, "publicly_visible": "n"})}).json()
            assert doc["status"] == "success", doc
        for path in env.jobs_dir.glob("*/status.json"):
            status = json.loads(path.read_text())
            hidden[status["input"]["file"]] = status["job_id"]
        shown = env.submit(images("fail"))
        assert env.wait(hidden["sky.png"])["state"] == "done"
        env.wait_for(hidden["hang.png"], lambda s: s["state"] == "processing", what="running")
        assert env.wait(shown)["state"] == "error"

        anonymous = httpx.get(web.url + "/page.json").text
        assert shown in anonymous and not [j for j in hidden.values() if j in anonymous]
        assert str(env.jobs_dir) not in anonymous
        assert httpx.get(f"{web.url}/jobs/{hidden['hang.png']}/files/thumbnail"
                         ).status_code == 404
        assert httpx.post(f"{web.url}/jobs/{shown}/retry").status_code == 403
        with httpx.Client(base_url=web.url) as browser:
            browser.post("/login", data={"apikey": key})
            trusted = browser.get("/page.json").json()
            assert sorted(hidden.values()) == sorted(
                j["job_id"] for j in trusted["jobs"] if j["job_id"] != shown)
            assert [f["job_id"] for f in trusted["sky"]] == [hidden["sky.png"]]
            assert trusted["consumers"]["consumers"][0]["running"] == [hidden["hang.png"]]
        env.run("cancel", "--job-id", hidden["hang.png"])
    finally:
        web.stop()
