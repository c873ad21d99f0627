"""The kinds nim-reconciler renders and applies, in apply order (a data table; pure).

Deletion runs this order in reverse.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    kind: str
    api_version: str
    plural: str


ORDER: tuple[Kind, ...] = (
    Kind("NIMCache", "apps.nvidia.com/v1alpha1", "nimcaches"),
    Kind("PersistentVolumeClaim", "v1", "persistentvolumeclaims"),
    Kind("Job", "batch/v1", "jobs"),
    Kind("NIMService", "apps.nvidia.com/v1alpha1", "nimservices"),
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
