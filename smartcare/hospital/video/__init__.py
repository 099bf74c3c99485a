"""Video visits: WebRTC calls of an online consultation, with a waiting room, notes, and signalling over our WebSocket."""
