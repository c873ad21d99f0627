"""nim-reconciler: GitOps for NVIDIA NIM (NIMCache / NIMService) on Kubernetes."""

__version__ = "0.1.0"
