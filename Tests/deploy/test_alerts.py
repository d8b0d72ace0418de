"""deploy/prometheus/alerts.yml: valid for promtool, loaded by prometheus.yml, unit-tested by
alerts.test.yml (each alert both firing and quiet), every alert with `for:`, a severity and a
runbook section in docs/operations.md, and only metrics the services really export."""

import re

import yaml

from conftest import ROOT, run

PROMETHEUS = ROOT / "deploy/prometheus"
# What issue 16 asks to be alerted on, by alert name.
REQUIRED = {"CobrowseIngestBacklog", "CobrowseDeadLettersGrowing", "CobrowseRelayDown", "CobrowseFilterDown",
            "CobrowseRegistryDown", "CobrowseLivePathSlow", "CobrowseAgentAbsentEndsSpiking",
            "CobrowseCustomerAbsentEndsSpiking"}


def alerts():
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def exported_metrics():
    """The metric names the services export: their swift-metrics instruments' labels (timers and
    recorders are histograms, so with _bucket, _sum and _count)."""
    names = set()
    for source in list((ROOT / "Services").rglob("*.swift")) + list((ROOT / "Shared").rglob("*.swift")):
        text = source.read_text()
        names.update(re.findall(r'\b(?:Counter|FloatingPointCounter|Gauge|Meter)\(label:\s*"([^"]+)"', text))
        for name in re.findall(r'\b(?:Timer|Recorder)\(label:\s*"([^"]+)"', text):
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names


def heading_anchors(markdown):
    """GitHub's anchors of a Markdown file's headings."""
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.M):
        anchor = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(anchor)
    return anchors


def test_promtool_checks_the_rules(promtool):
    result = run(promtool, "check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_loads_the_rules(promtool):
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    result = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0 and "alerts.yml" in result.stdout, result.stdout + result.stderr
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose


def test_the_unit_tests_pass(promtool):
    result = run(promtool, "test", "rules", "alerts.test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_alert_is_tested_firing_and_quiet():
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    checks = [check for test in tests for check in test["alert_rule_test"]]
    for rule in alerts():
        name = rule["alert"]
        outcomes = [bool(check.get("exp_alerts")) for check in checks if check["alertname"] == name]
        assert True in outcomes, f"no test shows {name} firing"
        assert False in outcomes, f"no test shows {name} quiet"


def test_every_alert_has_for_a_severity_and_a_runbook():
    names = {rule["alert"] for rule in alerts()}
    assert REQUIRED <= names, f"missing: {REQUIRED - names}"
    anchors = heading_anchors((ROOT / "docs/operations.md").read_text())
    for rule in alerts():
        name = rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), f"{name} has no for:"
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        annotations = rule["annotations"]
        assert annotations["summary"] and annotations["description"], name
        page, _, anchor = annotations["runbook"].partition("#")
        assert page == "docs/operations.md" and anchor == name.lower(), f"{name}: runbook {annotations['runbook']}"
        assert anchor in anchors, f"docs/operations.md has no section {name}"


def test_alerts_use_only_exported_metrics():
    exported = exported_metrics()
    assert "cobrowse_watch_sessions_ended_total" in exported and "cobrowse_live_path_seconds_bucket" in exported
    for rule in alerts():
        for metric in re.findall(r"(?<![\w:.])((?:cobrowse|amqp)_[a-z0-9_]+)", rule["expr"]):
            assert metric in exported, f"{rule['alert']} uses {metric}, which no service exports"
