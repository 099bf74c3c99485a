"""Disease information in the patient app: search, consumer condition pages and every ICD-10-CM code."""
