"""docker-compose.tls.yml as Docker reads it: every hop TLS. Each service serves HTTPS with the
mounted services' certificate and is health-checked over https with the CA; the load balancer
reaches the relays and the watch over verified TLS; Prometheus scrapes every service and the
broker over HTTPS with the CA (prometheus.tls.yml, the same jobs as prometheus.yml); the registry
gets its database key as a compose secret."""

import re

import yaml

from conftest import ROOT, run
from test_compose import BASE, DEV_ENV, compose, services

TLS = BASE + ["docker-compose.tls.yml"]
PRODUCTS = {"session-registry": 8081, "dom-relay": 8080, "masking-filter": 8082, "interaction-watch": 8083}


def mounts(service):
    """{container path: host path} of a service's bind mounts."""
    found = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            found[volume["target"]] = volume.get("source", "")
        else:
            source, target = volume.split(":")[:2]
            found[target] = source
    return found


def test_every_service_serves_https_with_a_mounted_certificate_and_is_checked_over_https():
    found = services(TLS)
    for name, port in PRODUCTS.items():
        service = found[name]
        environment, mounted = service["environment"], mounts(service)
        for variable in ("TLS_CERT_FILE", "TLS_KEY_FILE"):
            assert environment.get(variable) in mounted, f"{name}: {variable}={environment.get(variable)} is not mounted"
            assert mounted[environment[variable]].startswith(str(ROOT / "deploy/tls")), mounted[environment[variable]]
        test = " ".join(service["healthcheck"]["test"])
        assert f"https://localhost:{port}/health" in test and "--cacert /etc/cobrowse/tls/ca.pem" in test, test
        assert environment["AMQP_URL"].startswith("amqps://") and "cacertfile=/etc/cobrowse/tls/ca.pem" in environment["AMQP_URL"]
    # Without the override the services serve plain HTTP.
    assert all("TLS_CERT_FILE" not in services(BASE)[name]["environment"] for name in PRODUCTS)


def test_the_load_balancer_verifies_the_relays_and_the_watch():
    lb = services(TLS)["lb"]
    ca = lb["environment"]["BACKEND_TLS_CA"]
    assert ca in mounts(lb) and mounts(lb)[ca].endswith("deploy/tls/ca.pem")
    haproxy = (ROOT / "deploy/lb/haproxy.cfg").read_text()
    block = re.search(r"^\.if defined\(BACKEND_TLS_CA\)\n(.*?)^\.else", haproxy, re.MULTILINE | re.DOTALL)
    assert block, "haproxy.cfg has no BACKEND_TLS_CA block"
    for name in ("dom-relay", "interaction-watch"):
        assert re.search(rf'ssl verify required ca-file "\$\{{BACKEND_TLS_CA\}}" verifyhost {name}\b', haproxy), name


def test_prometheus_scrapes_the_same_jobs_over_https_with_the_ca():
    plain = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    tls = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.tls.yml").read_text())
    assert tls["rule_files"] == plain["rule_files"]
    jobs = {job["job_name"]: job for job in tls["scrape_configs"]}
    assert set(jobs) == {job["job_name"] for job in plain["scrape_configs"]}
    for name in [*PRODUCTS, "rabbitmq"]:
        job = jobs[name]
        assert job["scheme"] == "https" and job["tls_config"]["ca_file"] == "/etc/prometheus/tls/ca.pem", name
        assert job["tls_config"]["server_name"] == name and "insecure_skip_verify" not in job["tls_config"]
    assert jobs["rabbitmq"]["dns_sd_configs"][0]["port"] == 15691
    assert "prometheus.ssl.port = 15691" in (ROOT / "deploy/rabbitmq/tls.conf").read_text()


def test_prometheus_in_the_tls_stack_reads_the_tls_configuration_and_the_ca():
    result = compose(TLS, "--profile", "monitoring", "config", env_file=ROOT / DEV_ENV)
    assert result.returncode == 0, result.stderr
    prometheus = yaml.safe_load(result.stdout)["services"]["prometheus"]
    mounted = mounts(prometheus)
    assert mounted["/etc/prometheus/prometheus.yml"].endswith("deploy/prometheus/prometheus.tls.yml")
    assert mounted["/etc/prometheus/tls/ca.pem"].endswith("deploy/tls/ca.pem")


def test_promtool_accepts_the_tls_configuration(promtool):
    result = run(promtool, "check", "config", str(ROOT / "deploy/prometheus/prometheus.tls.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_registry_gets_its_database_key_as_a_secret():
    registry = services(TLS)["session-registry"]
    assert registry["environment"]["REGISTRY_DATABASE_KEY_FILE"] == "/run/secrets/registry_database_key"
    assert [secret if isinstance(secret, str) else secret["source"] for secret in registry["secrets"]] == ["registry_database_key"]
    key = (ROOT / "deploy/compose/registry-database.dev.key").read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key), "the development key is not 64 hex characters"
