"""What patients and their caregivers do themselves: booking visits and following them."""
