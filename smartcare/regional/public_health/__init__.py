"""Public health: condition counts by week and district with small cells hidden, and notifiable-disease case reports."""
