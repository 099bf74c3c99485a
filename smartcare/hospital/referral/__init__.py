"""Two-way referral (双向转诊) between community clinics and hospitals."""
