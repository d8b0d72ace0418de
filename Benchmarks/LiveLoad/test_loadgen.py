"""Sanity of the generator's bookkeeping: a lost frame is seen as lost, a frame delivered twice
counts once, a frame of another session counts for nothing. Run before every live-load run by
deploy/local/bench; results of the benchmark itself are never asserted anywhere."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import loadgen  # noqa: E402
from socketio_client import parse_frame  # noqa: E402


def filtered(text):
    """A frame as the viewer gets it from our filter: decoded, renumbered, encoded again."""
    frame = json.loads(text)
    frame["seq"] = 1000 + frame["seq"]
    if frame["t"] == "snapshot":
        frame["root"]["children"][1]["children"][0]["children"][0]["value"] = "****"
    return frame


def rrweb_events(text):
    """The events a watcher gets in `live:events` for a publisher's `tracker:events` frame."""
    kind, name, data = parse_frame(text)
    assert kind == "event" and name == "tracker:events"
    return [item["event"] for item in data["events"]]


class TallyTests(unittest.TestCase):
    def test_each_frame_delivered_once(self):
        tally = loadgen.Tally(7)
        for n in (1, 2, 3):
            tally.sent(n, due=10.0 + n, kind=loadgen.DOM, in_window=True)
        tally.received(7, 1, 11.5)
        tally.received(7, 1, 11.9)  # the same frame again
        tally.received(7, 3, 13.2)
        summary = tally.summary()
        self.assertEqual(summary["sent"], 3)
        self.assertEqual(summary["delivered"], 2)
        self.assertEqual(summary["duplicates"], 1)
        self.assertEqual(sorted(round(x, 3) for x in summary["latencies"]), [0.2, 0.5])
        self.assertEqual(tally.lost(), [2])
        self.assertEqual(tally.pending_in_window(), 1)

    def test_frames_of_another_session_deliver_nothing(self):
        tally = loadgen.Tally(7)
        tally.sent(1, due=1.0, kind=loadgen.DOM, in_window=True)
        tally.received(8, 1, 1.1)  # session 8's frame 1 reached session 7's viewer
        summary = tally.summary()
        self.assertEqual(summary["delivered"], 0)
        self.assertEqual(summary["foreign"], 1)
        self.assertEqual(tally.lost(), [1])

    def test_numbers_never_sent_are_unknown(self):
        tally = loadgen.Tally(7)
        tally.sent(1, due=1.0, kind=loadgen.DOM, in_window=True)
        tally.received(7, 99, 1.1)
        self.assertEqual(tally.summary()["unknown"], 1)
        self.assertEqual(tally.summary()["delivered"], 0)

    def test_only_the_window_is_measured(self):
        tally = loadgen.Tally(7)
        tally.sent(1, due=1.0, kind=loadgen.DOM, in_window=False)  # warm-up
        tally.sent(2, due=2.0, kind=loadgen.CURSOR, in_window=True)
        tally.sent(3, due=3.0, kind=loadgen.DOM, in_window=True)
        tally.received(7, 3, 4.5)  # 1.5 s late
        summary = tally.summary()
        self.assertEqual((summary["sent"], summary["delivered"]), (2, 1))
        self.assertEqual((summary["dom_sent"], summary["dom_within_1s"]), (1, 0))
        self.assertEqual(tally.lost(), [1, 2])

    def test_markers(self):
        self.assertEqual(loadgen.parse_marker(loadgen.marker(100001, 42) + "x y"), (100001, 42))
        self.assertIsNone(loadgen.parse_marker("****"))
        self.assertIsNone(loadgen.parse_marker("m x 1 "))
        self.assertIsNone(loadgen.parse_marker(None))


class FrameTests(unittest.TestCase):
    def test_ours_frames_carry_session_and_number_through_the_filter(self):
        page = loadgen.Page()
        mutation = loadgen.ours_mutation(page, 100001, 5, 5)
        self.assertLess(len(mutation), 320)
        self.assertEqual(loadgen.ours_view_frame(filtered(mutation)), [("frame", 100001, 5)])
        cursor = loadgen.ours_cursor(100001, 6, 6)
        self.assertEqual(loadgen.ours_view_frame(filtered(cursor)), [("frame", 100001, 6)])
        snapshot = loadgen.ours_snapshot(page, 100001, 3, 1, "abc")
        self.assertEqual(loadgen.ours_view_frame(filtered(snapshot)), [("snapshot", "100001:3", "****")])
        # The snapshot holds the page as changed: the item just added, not the one removed.
        items = json.loads(snapshot)["root"]["children"][1]["children"][1]["children"]
        self.assertEqual(len(items), loadgen.ITEMS)
        self.assertEqual(items[-1]["children"][0]["text"], loadgen.marker(100001, 5) + loadgen.FILLER)

    def test_rrweb_events_carry_session_and_number(self):
        page = loadgen.Page()
        self.assertEqual(loadgen.rrweb_view_events(rrweb_events(loadgen.rrweb_mutation(page, 100002, 9, 0))),
                         [("frame", 100002, 9)])
        self.assertEqual(loadgen.rrweb_view_events(rrweb_events(loadgen.rrweb_cursor(100002, 10, 0))),
                         [("frame", 100002, 10)])
        events = [item["event"] for item in loadgen.rrweb_snapshot_events(page, 100002, 1, 0)]
        self.assertEqual(loadgen.rrweb_view_events(events), [("snapshot", "100002:1", None)])


class SessionTests(unittest.TestCase):
    def session(self):
        session = loadgen.Session(tag=100003, cursor_every=5)
        for n in range(1, 6):
            session.tally.sent(n, due=float(n), kind=loadgen.DOM, in_window=True)
        return session

    def test_loss_duplicates_and_strangers(self):
        session = self.session()
        session._view([("frame", 100003, 1), ("frame", 100003, 2), ("frame", 100003, 2), ("frame", 100004, 3),
                       ("frame", 100003, 5)], at=6.0)
        report = session.report()
        self.assertEqual(report["delivered"], 3)
        self.assertEqual(report["duplicates"], 1)
        self.assertEqual(report["foreign"], 1)
        self.assertTrue(report["had_loss"])
        self.assertFalse(report["resynced"])

    def test_resynced_only_by_a_snapshot_sent_after_the_last_loss(self):
        session = self.session()
        session._view([("frame", 100003, n) for n in (1, 2, 4, 5)], at=6.0)
        session.snapshots_sent = {1: 0.5, 2: 2.5, 3: 3.5}
        session._view([("snapshot", "100003:2", "****")], at=6.1)  # sent before frame 3 was lost
        self.assertFalse(session.report()["resynced"])
        session._view([("snapshot", "100003:3", "****")], at=6.2)
        self.assertTrue(session.report()["resynced"])
        session._view([("snapshot", "100004:9", "****")], at=6.3)  # another session's
        self.assertEqual(session.report()["snapshots_seen"], 2)

    def test_a_lost_cursor_frame_needs_no_resync(self):
        session = self.session()
        session.tally.sent(6, due=6.0, kind=loadgen.CURSOR, in_window=True)
        session._view([("frame", 100003, n) for n in (1, 2, 3, 4, 5)], at=7.0)
        report = session.report()
        self.assertEqual((report["sent"], report["delivered"], report["dom_delivered"]), (6, 5, 5))
        self.assertFalse(report["had_loss"])
        self.assertTrue(report["resynced"])

    def test_a_password_in_clear_is_counted(self):
        session = self.session()
        session._view([("snapshot", "100003:1", loadgen.CLEAR_PASSWORD)], at=1.0)
        self.assertEqual(session.report()["unmasked"], 1)


if __name__ == "__main__":
    unittest.main()
