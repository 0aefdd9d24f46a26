"""The provider sandbox (development and tests only, never deployed): see its README."""
