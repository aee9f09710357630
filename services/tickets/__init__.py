"""tickets: sellers list and edit tickets; orders reserve and release them through events."""
