"""The CIV portal: the admin site, the identity and worklist screens, the anteriority search, the dashboard. It composes the capabilities' screens."""
