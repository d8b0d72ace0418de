"""The compose files as Docker reads them (`docker-compose config`): every documented combination
is valid with the development values of deploy/compose/dev.env and refused without them, naming
what to set; no secret has a public default outside that file; profiles; one image for every
service, each its own `command:`."""

import re
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, run

DEV_ENV = "deploy/compose/dev.env"
BASE = ["docker-compose.yml"]
# Every combination docs/operations.md documents (the cluster is not combined with TLS).
COMBINATIONS = [BASE, BASE + ["docker-compose.tls.yml"], BASE + ["docker-compose.cluster.yml"]]
ALL_FILES = ["docker-compose.yml", "docker-compose.tls.yml", "docker-compose.cluster.yml"]
# The executables that run as compose services, from the one image.
PRODUCTS = ["session-registry", "dom-relay", "masking-filter", "interaction-watch"]
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|COOKIE|DEFINITIONS")


def compose(files, *arguments, env_file):
    """docker-compose over `files` with only `env_file` for variables."""
    options = [argument for name in files for argument in ("-f", str(ROOT / name))]
    return run("/usr/bin/docker-compose", *options, "--env-file", str(env_file), *arguments)


def dev_values():
    """The variables deploy/compose/dev.env sets, by name."""
    values = {}
    for line in (ROOT / DEV_ENV).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def env_file(values):
    """A temporary env file holding `values` (docker-compose 1.29 refuses /dev/null: not a file)."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".env", delete=False)
    handle.write("".join(f"{name}={value}\n" for name, value in values.items()))
    handle.close()
    return Path(handle.name)


def services(files):
    """The effective services of `files` with the development values."""
    result = compose(files, "config", env_file=ROOT / DEV_ENV)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def variables(text):
    """Each `${NAME…}` of a compose file outside comments: (name, what follows the name up to `}`)."""
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return re.findall(r"\$\{([A-Z0-9_]+)([^}]*)\}", code)


@pytest.mark.parametrize("files", COMBINATIONS, ids="+".join)
@pytest.mark.parametrize("profile", [[], ["--profile", "dev"], ["--profile", "monitoring"]], ids=" ".join)
def test_every_combination_is_valid_with_the_development_values(files, profile):
    result = compose(files, *profile, "config", "-q", env_file=ROOT / DEV_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("files", COMBINATIONS, ids="+".join)
def test_without_secrets_compose_stops_and_says_what_to_set(files):
    result = compose(files, "config", "-q", env_file=env_file({}))
    assert result.returncode != 0
    assert re.search(r"set [A-Z0-9_]+", result.stderr), result.stderr
    assert f"--env-file {DEV_ENV}" in result.stderr, result.stderr


def test_each_required_variable_is_named_when_it_alone_is_missing():
    values = dev_values()
    required = sorted({name for file in ALL_FILES for name, rest in variables((ROOT / file).read_text()) if rest.startswith(":?")})
    assert {"TOKEN_HS256_SECRET", "ADMIN_TOKEN", "WEBHOOK_SECRET", "GRAFANA_ADMIN_PASSWORD", "RABBITMQ_DEFINITIONS",
            "RABBITMQ_RELAY_PASSWORD", "RABBITMQ_MONITOR_PASSWORD_FILE", "RABBITMQ_ERLANG_COOKIE", "POSTGRES_PASSWORD",
            "REGISTRY_DATABASE_KEY_FILE"} <= set(required)
    for name in required:
        assert values.get(name), f"{DEV_ENV} has no value for {name}"
        without = env_file({key: value for key, value in values.items() if key != name})
        # Checked with the override that asks for it (the base and the cluster, or the base and TLS).
        override = "docker-compose.cluster.yml" if f"${{{name}:?" in (ROOT / "docker-compose.cluster.yml").read_text() \
            or f"${{{name}:?" in (ROOT / "docker-compose.yml").read_text() else "docker-compose.tls.yml"
        result = compose(BASE + [override], "config", "-q", env_file=without)
        assert result.returncode != 0 and f"set {name}" in result.stderr, f"{name} missing: {result.stderr}"


@pytest.mark.parametrize("file", ALL_FILES)
def test_no_secret_has_a_default(file):
    text = (ROOT / file).read_text()
    for name, rest in variables(text):
        if SECRET_NAME.search(name):
            # Required, or empty by default (DEV_TOKEN_SECRET and RULES_EDITOR_TOKEN: the feature is off).
            assert rest.startswith(":?") or rest == ":-", f"{file}: ${{{name}{rest}}} has a default"
    # No password written into a URL: each is a variable.
    for password in re.findall(r"://[^:/@\s\"]+:([^@\s\"]+)@", text):
        assert password.startswith("${") and ":?" in password, f"{file}: a literal password in a URL"
    # No secret file of the repository outside deploy/compose/dev.env.
    assert "rabbitmq-monitor-password" not in text and "./deploy/rabbitmq/definitions.json" not in text


def test_the_dev_profile_turns_on_dev_mode_and_monitoring():
    values = dev_values()
    assert set(values["COMPOSE_PROFILES"].split(",")) == {"dev", "monitoring"}
    assert values["DEV_MODE"] == "1" and values["DEV_TOKEN_SECRET"] == values["TOKEN_HS256_SECRET"]
    relay = services(BASE)["dom-relay"]["environment"]
    assert relay["DEV_MODE"] == "1"
    # Without dev.env the relay serves no demo shop and no dev tokens.
    text = (ROOT / "docker-compose.yml").read_text()
    assert "DEV_MODE: ${DEV_MODE:-0}" in text and "DEV_TOKEN_SECRET: ${DEV_TOKEN_SECRET:-}" in text


@pytest.mark.parametrize("files", COMBINATIONS, ids="+".join)
def test_profiles(files):
    found = {name: service.get("profiles", []) for name, service in services(files).items()}
    assert found.pop("prometheus") == ["monitoring"] and found.pop("grafana") == ["monitoring"]
    assert found.pop("cobrowse-ctl") == ["tools"]
    assert all(profiles == [] for profiles in found.values()), found


@pytest.mark.parametrize("files", COMBINATIONS, ids="+".join)
def test_one_image_for_every_product_each_service_its_command(files):
    found = services(files)
    dockerfile = (ROOT / "deploy/docker/Dockerfile").read_text()
    built = re.search(r'ARG PRODUCTS="([^"]+)"', dockerfile).group(1).split()
    assert "ARG SERVICE" not in dockerfile and "COPY --from=build /out/bin/ /usr/local/bin/" in dockerfile
    for name in PRODUCTS + ["cobrowse-ctl"]:
        service = found[name]
        assert service["image"] == "cobrowse", f"{name} runs {service.get('image')}"
        assert service["build"]["dockerfile"] == "deploy/docker/Dockerfile" and "args" not in service["build"]
    for name in PRODUCTS:
        assert name in built
        assert found[name]["command"] == [f"/usr/local/bin/{name}"], found[name].get("command")
    assert found["cobrowse-ctl"]["entrypoint"] == ["/usr/local/bin/cobrowse-ctl"]


def test_the_documented_commands_are_these():
    operations = (ROOT / "docs/operations.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for text in (operations, readme):
        assert f"docker compose --env-file {DEV_ENV} up -d --build" in text
        assert "--profile monitoring" in text
