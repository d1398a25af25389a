"""Data exchange: Camtrap DP packages in and out, MegaDetector results in."""
