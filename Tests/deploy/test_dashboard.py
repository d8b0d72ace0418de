"""The Grafana dashboard (deploy/grafana/dashboards/cobrowse.json). Debian packages no Grafana, so
it is not rendered here: instead every panel query, with Grafana's variables put in as Grafana
would, goes through promtool's PromQL parser, and every query is limited to $job and $instance."""

import json
import re

import pytest
import yaml

from conftest import ROOT, run

DASHBOARD = ROOT / "deploy/grafana/dashboards/cobrowse.json"
# A metric name of the suite, RabbitMQ or HAProxy, with its matchers if it has any.
SELECTOR = re.compile(r"\b((?:cobrowse|amqp|rabbitmq|haproxy)_[A-Za-z0-9_]+)(\{[^}]*\})?")


def dashboard():
    return json.loads(DASHBOARD.read_text())


def panels(items):
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def queries():
    """(panel id, refId, expr) of every query."""
    return [(panel["id"], target["refId"], target["expr"])
            for panel in panels(dashboard()["panels"]) for target in panel.get("targets", []) if "expr" in target]


def as_grafana_sends_it(expr):
    """The query Grafana sends with every job and instance chosen ("All" is `.*`)."""
    return expr.replace("$__rate_interval", "1m").replace("$job", ".*").replace("$instance", ".*")


def test_the_dashboard_has_job_and_instance_variables():
    variables = {variable["name"]: variable for variable in dashboard()["templating"]["list"]}
    assert set(variables) >= {"job", "instance"}
    for variable in (variables["job"], variables["instance"]):
        assert variable["type"] == "query" and variable["datasource"]["uid"] == "prometheus"
        assert variable["includeAll"] and variable["multi"] and variable["allValue"] == ".*"
    assert variables["job"]["definition"] == "label_values(up, job)"
    # The instances offered are those of the chosen jobs.
    assert '$job' in variables["instance"]["definition"]


@pytest.mark.parametrize("panel,ref,expr", queries(), ids=lambda value: str(value)[:40])
def test_every_query_is_limited_to_job_and_instance(panel, ref, expr):
    selectors = SELECTOR.findall(expr)
    assert selectors, f"panel {panel} {ref} queries no known metric: {expr}"
    for metric, matchers in selectors:
        assert 'job=~"$job"' in matchers and 'instance=~"$instance"' in matchers, f"panel {panel} {ref}: {metric}{matchers}"


def test_promtool_parses_every_query(promtool, tmp_path):
    rules = [{"record": f"dashboard:panel_{panel}_{ref}", "expr": as_grafana_sends_it(expr)} for panel, ref, expr in queries()]
    assert len(rules) > 40
    file = tmp_path / "dashboard-queries.yml"
    file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run(promtool, "check", "rules", str(file))
    assert result.returncode == 0 and f"SUCCESS: {len(rules)} rules found" in result.stdout, result.stdout + result.stderr
