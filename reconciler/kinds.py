"""The kinds nim-reconciler renders and applies, in apply order (a data table; pure).

Deletion runs this order in reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

API_VERSION = "apps.nvidia.com/v1alpha1"  # of NIMCache and NIMService, as NVIDIA's operator serves them
# Our custom resources: every other kind we apply is a child of one of them.
CUSTOM_KINDS = ("NIMCache", "NIMService")
# What a manifest may declare: our custom resources, and the Namespaces they go in.
MANIFEST_KINDS = (*CUSTOM_KINDS, "Namespace")


@dataclass(frozen=True)
class Kind:
    """A kind we read or write: its apiVersion, REST plural and whether it is namespaced."""

    kind: str
    api_version: str
    plural: str
    namespaced: bool = True
    # a label our objects of this kind also carry, to tell them from others with our labels (the revision
    # record is a ConfigMap too); observe lists by it
    marker: str = ""

    def path(self, namespace: str = "", name: str = "") -> str:
        """The REST path: ``/api/v1/namespaces/ns/services/name``, ``/apis/batch/v1/jobs`` …"""
        root = f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"
        scope = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{root}{scope}/{self.plural}" + (f"/{name}" if name else "")


NAMESPACE = Kind("Namespace", "v1", "namespaces", namespaced=False)
ORDER: tuple[Kind, ...] = (
    NAMESPACE,  # declared in clusters/<cluster>/: before everything that goes in it
    Kind("NIMCache", API_VERSION, "nimcaches"),
    Kind("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    # a NIMCache's model manifest probe and what it read (selection.py): before the Job they decide
    Kind("ConfigMap", "v1", "configmaps", marker="nimcache"),
    Kind("Pod", "v1", "pods", marker="nimcache"),
    Kind("Job", "batch/v1", "jobs"),
    Kind("NIMService", API_VERSION, "nimservices"),
    Kind("ServiceAccount", "v1", "serviceaccounts"),
    Kind("Service", "v1", "services"),
    Kind("Deployment", "apps/v1", "deployments"),
    Kind("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers"),
    Kind("Ingress", "networking.k8s.io/v1", "ingresses"),
    Kind("HTTPRoute", "gateway.networking.k8s.io/v1", "httproutes"),
    Kind("GRPCRoute", "gateway.networking.k8s.io/v1", "grpcroutes"),
    Kind("ServiceMonitor", "monitoring.coreos.com/v1", "servicemonitors"),
)
BY_KIND = {k.kind: k for k in ORDER}
RANK = {k.kind: i for i, k in enumerate(ORDER)}
CRD = Kind("CustomResourceDefinition", "apiextensions.k8s.io/v1", "customresourcedefinitions", namespaced=False)
# Kinds served by CRDs of other projects: their CRDs must exist before we can apply them.
FOREIGN_CRDS = {
    "HTTPRoute": "httproutes.gateway.networking.k8s.io",
    "GRPCRoute": "grpcroutes.gateway.networking.k8s.io",
    "ServiceMonitor": "servicemonitors.monitoring.coreos.com",
}
OUR_CRDS = {"NIMCache": "nimcaches.apps.nvidia.com", "NIMService": "nimservices.apps.nvidia.com"}
