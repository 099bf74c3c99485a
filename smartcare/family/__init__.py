"""Family health: home and ward devices, remote monitoring and alerts, the intelligent medication system."""
