"""Sharing one's record: time- and scope-limited share links with QR codes, who opened the record, corrections."""
