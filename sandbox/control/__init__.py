"""The sandbox's loopback HTTP control API: ground truth, fault injection, and a Kubernetes-compatible scale API."""
