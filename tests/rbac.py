"""What Kubernetes RBAC would say of a request: its attributes, and whether a set of rules allows them.

Written from the Kubernetes docs on RBAC and request attributes (verb from the HTTP method; ``list`` for a GET of
a collection; ``resource/subresource``; ``resourceNames`` never restrict ``list`` or ``create``). Discovery paths
(``/api``, ``/apis``, ``/apis/<group>/<version>``) are open to every authenticated user (system:discovery).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_PATH = re.compile(
    r"^/(?:api/(?P<cv>v1)|apis/(?P<g>[^/]+)/(?P<v>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?(?:/(?P<res>[^/]+)(?:/(?P<name>[^/]+)(?:/(?P<sub>[^/]+))?)?)?$"
)


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str  # with "/subresource" when there is one
    namespace: str
    name: str

    def __str__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else " (cluster scope)"
        named = f" {self.name}" if self.name else ""
        return f"{self.verb} {self.group or 'core'}/{self.resource}{named}{where}"


def checks(method: str, path: str, query: Mapping[str, str], content_type: str) -> list[Attributes]:
    """Every authorization check the API server makes for a request.

    A server-side apply (PATCH with ``application/apply-patch+yaml``) may create the object, and the API server
    then checks ``create`` too (apiserver ``endpoints/handlers/patch.go``, ``createAuthorizerAttributes``).
    """
    a = attributes(method, path, query)
    if a is None:
        return []
    if method == "PATCH" and content_type.startswith("application/apply-patch"):
        return [a, Attributes("create", a.group, a.resource, a.namespace, a.name)]
    return [a]


def attributes(method: str, path: str, query: Mapping[str, str]) -> Attributes | None:
    """The request's RBAC attributes; None for discovery (allowed to everyone)."""
    match = _PATH.match(path)
    if match is None:
        if path in ("/api", "/apis", "/version") or path.startswith("/openapi"):
            return None
        raise ValueError(f"not a resource path: {path}")
    group, ns, res, name, sub = match["g"] or "", match["ns"] or "", match["res"], match["name"] or "", match["sub"]
    if ns and res is None:  # /api/v1/namespaces/x is the Namespace x itself
        ns, res, name = "", "namespaces", ns
    if res is None:
        return None  # /api/v1 or /apis/<group>/<version>: discovery
    if method == "GET":
        verb = "get" if name else ("watch" if query.get("watch") in ("1", "true") else "list")
    elif method == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = VERBS[method]
    return Attributes(verb, group, f"{res}/{sub}" if sub else res, ns, name)


def _allows(rule: Mapping[str, Any], a: Attributes) -> bool:
    if "*" not in rule.get("verbs", []) and a.verb not in rule.get("verbs", []):
        return False
    if "*" not in rule.get("apiGroups", []) and a.group not in rule.get("apiGroups", []):
        return False
    if "*" not in rule.get("resources", []) and a.resource not in rule.get("resources", []):
        return False
    names = rule.get("resourceNames")
    return not names or (a.verb not in ("list", "watch", "create", "deletecollection") and a.name in names)


def allowed(rules: Sequence[Mapping[str, Any]], a: Attributes) -> bool:
    return any(_allows(rule, a) for rule in rules)


def denied(rules: Sequence[Mapping[str, Any]], requests: Iterable[Any], namespaces: set[str]) -> list[str]:
    """Every check the rules do not allow (``namespaces``: where a Role is bound; empty for a ClusterRole).

    ``requests`` are the test server's ``Request`` records.
    """
    out = []
    for r in requests:
        for a in checks(r.method, r.path, r.query, r.content_type):
            bound = not namespaces or a.namespace in namespaces
            if not bound or not allowed(rules, a):
                out.append(f"{r.method} {r.path}: needs {a}")
    return sorted(set(out))


def deploy_rules() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rules of deploy/rbac.yaml: the ClusterRole's, and the state Role's (lease and record)."""
    import yaml

    from tests.helpers import REPO

    docs = list(yaml.safe_load_all((REPO / "deploy" / "rbac.yaml").read_text()))
    cluster = next(d for d in docs if d["kind"] == "ClusterRole")
    state = next(d for d in docs if d["kind"] == "Role")
    return list(cluster["rules"]), list(state["rules"])


def serve_rules() -> list[dict[str, Any]]:
    """The rules of deploy/serve/rbac.yaml (what serve needs beside deploy/rbac.yaml)."""
    import yaml

    from tests.helpers import REPO

    docs = yaml.safe_load_all((REPO / "deploy" / "serve" / "rbac.yaml").read_text())
    return list(next(d for d in docs if d["kind"] == "ClusterRole")["rules"])


def namespaced_rules() -> list[dict[str, Any]]:
    """The rules of deploy/namespaced/role.yaml (a team's Role, bound in each of its namespaces)."""
    import yaml

    from tests.helpers import REPO

    docs = yaml.safe_load_all((REPO / "deploy" / "namespaced" / "role.yaml").read_text())
    return list(next(d for d in docs if d["kind"] == "Role")["rules"])
