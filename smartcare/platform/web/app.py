"""The ASGI application: FHIR REST API, app APIs and pages, in one FastAPI app."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from smartcare import __version__
from smartcare.family.care.views import router as family_care_router
from smartcare.family.devices.api import router as devices_api_router
from smartcare.family.devices.equipment_views import router as equipment_router
from smartcare.family.devices.views import router as devices_console_router
from smartcare.family.medication.api import router as medication_api_router
from smartcare.family.medication.views import router as medication_pages_router
from smartcare.family.monitoring.api import router as monitoring_api_router
from smartcare.family.monitoring.views import router as monitoring_pages_router
from smartcare.fhir.api import router as fhir_router
from smartcare.hospital.cds.api import router as cds_router
from smartcare.hospital.consultation.api import router as consultation_api_router
from smartcare.hospital.consultation.routes import router as consultation_pages_router
from smartcare.hospital.corrections.views import router as corrections_console_router
from smartcare.hospital.desk.views import router as desk_pages_router
from smartcare.hospital.directory.api import router as directory_api_router
from smartcare.hospital.directory.views import router as directory_pages_router
from smartcare.hospital.imaging.console_views import router as pacs_console_router
from smartcare.hospital.imaging.dicomweb import router as dicomweb_router
from smartcare.hospital.imaging.viewer_views import router as imaging_viewer_router
from smartcare.hospital.imaging.views import router as imaging_pages_router
from smartcare.hospital.lab.critical_views import router as lab_critical_router
from smartcare.hospital.lab.interface_views import router as lab_interface_router
from smartcare.hospital.lab.quality_views import router as lab_qc_router
from smartcare.hospital.lab.report_views import router as lab_report_router
from smartcare.hospital.lab.views import router as lab_pages_router
from smartcare.hospital.pharmacy.api import router as prescription_check_router
from smartcare.hospital.pharmacy.views import router as pharmacy_pages_router
from smartcare.hospital.queue import live as queue_live
from smartcare.hospital.queue import notices as queue_notices
from smartcare.hospital.queue.api import router as queue_api_router
from smartcare.hospital.queue.views import router as queue_pages_router
from smartcare.hospital.referral.routes import router as referral_router
from smartcare.hospital.scheduling.api import router as scheduling_api_router
from smartcare.hospital.scheduling.views import router as schedules_console_router
from smartcare.hospital.teleconsult.routes import router as teleconsult_router
from smartcare.hospital.video.routes import router as video_router
from smartcare.hospital.wards.monitor_views import router as ward_monitors_router
from smartcare.hospital.wards.views import router as ward_pages_router
from smartcare.hospital.workstation.notes_views import router as notes_pages_router
from smartcare.hospital.workstation.ordering_views import router as ordering_pages_router
from smartcare.hospital.workstation.prescribing_views import router as prescribing_pages_router
from smartcare.hospital.workstation.triage_views import router as triage_rules_router
from smartcare.hospital.workstation.views import router as workstation_pages_router
from smartcare.patient.app.pwa import router as app_shell_router
from smartcare.patient.app.views import router as app_home_router
from smartcare.patient.booking.views import router as booking_pages_router
from smartcare.patient.diseases.views import api_router as diseases_api_router
from smartcare.patient.diseases.views import router as diseases_pages_router
from smartcare.patient.drugs.views import router as drug_info_router
from smartcare.patient.family_access.views import router as family_access_router
from smartcare.patient.first_aid.views import router as first_aid_pages_router
from smartcare.patient.navigation.views import router as navigation_pages_router
from smartcare.patient.news.views import router as news_router
from smartcare.patient.record.export_views import router as record_exports_router
from smartcare.patient.record.views import router as record_pages_router
from smartcare.patient.reports.imaging import router as imaging_reports_router
from smartcare.patient.reports.views import router as reports_pages_router
from smartcare.patient.sharing.access_views import router as access_log_router
from smartcare.patient.sharing.corrections_views import router as corrections_pages_router
from smartcare.patient.sharing.public import router as shared_record_router
from smartcare.patient.sharing.views import router as share_links_router
from smartcare.patient.triage.api import router as triage_api_router
from smartcare.patient.triage.views import router as triage_pages_router
from smartcare.platform.jobs.console import router as jobs_console_router
from smartcare.platform.jobs.worker import install_embedded_worker
from smartcare.platform.notifications.views import router as notifications_router
from smartcare.platform.ops.web import install_request_ops
from smartcare.platform.security.break_glass_api import router as break_glass_router
from smartcare.platform.security.oauth import router as oauth_router
from smartcare.platform.settings import get_settings
from smartcare.platform.web.assets import mount_assets
from smartcare.platform.web.auth_pages import router as auth_router
from smartcare.platform.web.console_pages import router as console_router
from smartcare.platform.web.guard import install_guard
from smartcare.platform.web.heap import install_heap_freeze
from smartcare.platform.web.homes import router as homes_router
from smartcare.platform.web.pages import install_pages
from smartcare.platform.web.route_index import install_route_index
from smartcare.platform.web.security_headers import install_security_headers
from smartcare.platform.web.server_timing import install_server_timing
from smartcare.platform.web.signup_pages import router as signup_router
from smartcare.regional.chronic.views import router as chronic_pages_router
from smartcare.regional.consent.views import router as consent_pages_router
from smartcare.regional.exchange.api import router as exchange_api_router
from smartcare.regional.exchange.views import router as exchange_console_router
from smartcare.regional.mpi import fhir_operations  # noqa: F401  (registers Patient/$match, $ihe-pix; MPI hook)
from smartcare.regional.mpi.views import router as mpi_console_router
from smartcare.regional.public_health.api import router as public_health_api_router
from smartcare.regional.public_health.control_views import router as public_health_control_router
from smartcare.regional.public_health.detect_api import router as surveillance_detect_router
from smartcare.regional.public_health.public_api import router as public_figures_api_router
from smartcare.regional.public_health.public_views import router as public_page_router
from smartcare.regional.public_health.release_views import router as public_releases_router
from smartcare.regional.public_health.report_views import router as case_report_pages_router
from smartcare.regional.public_health.review_api import router as public_health_review_api_router
from smartcare.regional.public_health.review_views import router as public_health_review_router
from smartcare.regional.public_health.signal_views import router as public_health_signals_router
from smartcare.regional.public_health.views import router as public_health_pages_router
from smartcare.regional.records.views import router as regional_records_router
from smartcare.regional.research.api import router as research_api_router
from smartcare.regional.research.views import router as research_pages_router
from smartcare.regional.risk.api import router as scores_api_router
from smartcare.regional.risk.programme_views import router as risk_programme_router
from smartcare.regional.risk.views import router as risk_pages_router
from smartcare.regional.supervision.api import router as supervision_api_router
from smartcare.regional.supervision.facility_views import router as supervision_facility_router
from smartcare.regional.supervision.inspection_views import router as supervision_inspection_router
from smartcare.regional.supervision.views import router as supervision_pages_router


def create_app() -> FastAPI:
    """Build the SmartCare ASGI application."""
    app = FastAPI(title="SmartCare", version=__version__, description="Open smart medical care platform")
    app.include_router(fhir_router)
    app.include_router(dicomweb_router)
    app.include_router(oauth_router)
    app.include_router(devices_api_router)
    app.include_router(devices_console_router)
    app.include_router(equipment_router)
    app.include_router(break_glass_router)
    app.include_router(scheduling_api_router)
    app.include_router(referral_router)
    app.include_router(teleconsult_router)
    app.include_router(prescription_check_router)
    app.include_router(cds_router)
    app.include_router(triage_api_router)
    app.include_router(scores_api_router)
    app.include_router(surveillance_detect_router)
    app.include_router(risk_programme_router)
    app.include_router(triage_pages_router)
    app.include_router(triage_rules_router)
    install_pages(app)
    install_guard(app)
    app.include_router(queue_api_router)
    app.include_router(consultation_api_router)
    app.include_router(consultation_pages_router)
    app.include_router(video_router)
    app.include_router(queue_pages_router)
    app.include_router(booking_pages_router)
    app.include_router(first_aid_pages_router)
    app.include_router(navigation_pages_router)
    app.include_router(diseases_pages_router)
    app.include_router(diseases_api_router)
    app.include_router(news_router)
    app.include_router(drug_info_router)
    app.include_router(reports_pages_router)
    app.include_router(imaging_reports_router)
    app.include_router(desk_pages_router)
    app.include_router(pharmacy_pages_router)
    app.include_router(ward_pages_router)
    app.include_router(ward_monitors_router)
    app.include_router(prescribing_pages_router)
    app.include_router(ordering_pages_router)
    app.include_router(lab_pages_router)
    app.include_router(lab_report_router)
    app.include_router(lab_qc_router)
    app.include_router(lab_interface_router)
    app.include_router(lab_critical_router)
    app.include_router(imaging_pages_router)
    app.include_router(imaging_viewer_router)
    app.include_router(pacs_console_router)
    queue_live.install()
    queue_notices.install()
    app.include_router(workstation_pages_router)
    app.include_router(notes_pages_router)
    app.include_router(homes_router)
    app.include_router(app_home_router)
    app.include_router(app_shell_router)
    app.include_router(family_access_router)
    app.include_router(console_router)
    app.include_router(jobs_console_router)
    app.include_router(notifications_router)
    app.include_router(auth_router)
    app.include_router(signup_router)
    app.include_router(research_api_router)
    app.include_router(research_pages_router)
    app.include_router(supervision_api_router)
    app.include_router(supervision_pages_router)
    app.include_router(supervision_facility_router)
    app.include_router(supervision_inspection_router)
    app.include_router(risk_pages_router)
    app.include_router(public_health_api_router)
    app.include_router(public_health_pages_router)
    app.include_router(case_report_pages_router)
    app.include_router(public_health_review_router)
    app.include_router(public_health_signals_router)
    app.include_router(public_health_review_api_router)
    app.include_router(public_health_control_router)
    app.include_router(public_releases_router)
    app.include_router(public_page_router)
    app.include_router(public_figures_api_router)
    app.include_router(directory_api_router)
    app.include_router(directory_pages_router)
    app.include_router(schedules_console_router)
    app.include_router(medication_api_router)
    app.include_router(medication_pages_router)
    app.include_router(monitoring_api_router)
    app.include_router(monitoring_pages_router)
    app.include_router(family_care_router)
    app.include_router(consent_pages_router)
    app.include_router(chronic_pages_router)
    app.include_router(mpi_console_router)
    app.include_router(regional_records_router)
    app.include_router(exchange_api_router)
    app.include_router(exchange_console_router)
    app.include_router(record_pages_router)
    app.include_router(record_exports_router)
    app.include_router(share_links_router)
    app.include_router(shared_record_router)
    app.include_router(access_log_router)
    app.include_router(corrections_pages_router)
    app.include_router(corrections_console_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    install_request_ops(app)  # /readyz, /metrics; request ids, access lines and request metrics
    mount_assets(app)
    install_embedded_worker(app)
    _limit_request_threads(app)
    install_heap_freeze(app)
    install_route_index(app)
    install_server_timing(app)
    install_security_headers(app)
    return app


def _limit_request_threads(app: FastAPI) -> None:
    """Run blocking request work on at most settings.request_threads threads of this process."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator:
        anyio.to_thread.current_default_thread_limiter().total_tokens = get_settings().request_threads
        async with inner(application) as state:
            yield state

    app.router.lifespan_context = lifespan
