"""Remote consultation between doctors: a specialist's or a multi-disciplinary team's opinion on shared records."""
