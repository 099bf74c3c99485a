"""Family accounts: a patient (or their proxy) lets a family member's own account look after their record, and
withdraws it; the member switches between the people they look after at the top of the app."""
