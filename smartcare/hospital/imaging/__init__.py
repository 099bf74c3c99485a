"""Imaging: the PACS (DICOM storage, the study index, query/retrieve), worklist and studies as FHIR ImagingStudy."""
