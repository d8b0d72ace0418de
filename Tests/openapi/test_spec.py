"""docs/openapi.yaml on its own: valid OpenAPI 3.1, dev-only paths marked as such, and every path
served by the service its tag names (no services needed)."""

from openapi_spec_validator import validate

SERVICE_OF_TAG = {"registry": "session-registry", "relay": "dom-relay", "watch": "interaction-watch",
                  "filter": "masking-filter"}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(spec):
    """(path, method, path item, operation) of every operation."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item, item[method]


def test_the_spec_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1."), spec["openapi"]
    validate(spec)  # raises with what is wrong


def test_dev_only_operations_are_tagged_marked_and_say_they_404(spec):
    for path, method, _, operation in operations(spec):
        dev_tagged, marked = "dev" in operation.get("tags", []), operation.get("x-dev-only") is True
        assert dev_tagged == marked, f"{method.upper()} {path}: tag dev and x-dev-only: true go together"
        if marked:
            assert path.startswith("/dev/"), f"{method.upper()} {path}: dev-only paths live under /dev/"
            assert "DEV_MODE=1" in operation["description"] and "404" in operation["description"], path
            assert "404" in operation["responses"], f"{method.upper()} {path} must document its 404 outside dev mode"


def test_every_operation_names_its_service_and_is_served_there(spec):
    servers = {server["description"].split()[0]: server["url"] for server in spec["servers"]}
    assert set(servers) == set(SERVICE_OF_TAG.values()), servers
    for path, method, item, operation in operations(spec):
        services = [SERVICE_OF_TAG[tag] for tag in operation["tags"] if tag in SERVICE_OF_TAG]
        assert services, f"{method.upper()} {path} has no service tag"
        if "operations" in operation["tags"]:
            assert sorted(services) == sorted(SERVICE_OF_TAG.values()), f"{path} is on every service"
            assert "servers" not in item, f"{path} is on every server"
            continue
        assert len(services) == 1, f"{method.upper()} {path} names {services}"
        assert [server["url"] for server in item["servers"]] == [servers[services[0]]], \
            f"{method.upper()} {path}: its servers are not {services[0]}'s"


def test_every_operation_documents_its_answers(spec):
    for path, method, _, operation in operations(spec):
        assert operation.get("operationId"), f"{method.upper()} {path} has no operationId"
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        statuses = set(operation["responses"])
        assert any(status.startswith("2") for status in statuses), f"{method.upper()} {path}: no success answer"
        if operation.get("security"):
            assert statuses & {"400", "401", "403"}, f"{method.upper()} {path}: secured, but no refusal documented"
