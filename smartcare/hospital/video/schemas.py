"""What the video-visit API takes in and the signalling frames it relays (Pydantic, every field bounded)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from smartcare.hospital.video.service import MAX_NOTES

MAX_SDP = 100_000
MAX_CANDIDATE = 2_000


class Problem(BaseModel):
    """A refused request: a code and a sentence for people."""

    error: str
    message: str


class NewVisit(BaseModel):
    """Open a video visit for a consultation: now (escalated from chat) or at a planned time."""

    consultation: str = Field(min_length=1, max_length=64)
    mode: Literal["scheduled", "escalated"] = "escalated"
    scheduled_for: datetime | None = None


class Notes(BaseModel):
    """The notes written during the call, saved whole each time."""

    text: str = Field(max_length=MAX_NOTES)


class Description(BaseModel):
    """An SDP offer or answer (RTCSessionDescriptionInit)."""

    type: Literal["offer", "answer"]
    sdp: str = Field(min_length=1, max_length=MAX_SDP)


class Candidate(BaseModel):
    """An ICE candidate (RTCIceCandidateInit); an empty candidate marks the end of gathering."""

    candidate: str = Field(max_length=MAX_CANDIDATE)
    sdpMid: str | None = Field(default=None, max_length=64)  # noqa: N815 (the WebRTC field name)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=64)  # noqa: N815
    usernameFragment: str | None = Field(default=None, max_length=256)  # noqa: N815


class Signal(BaseModel):
    """One signalling frame from a browser: a description, a candidate, or a request for a fresh offer."""

    description: Description | None = None
    candidate: Candidate | None = None
    renegotiate: bool = False

    @model_validator(mode="after")
    def _one_thing(self) -> "Signal":
        if sum([self.description is not None, self.candidate is not None, self.renegotiate]) != 1:
            raise ValueError("a signal carries exactly one of description, candidate or renegotiate")
        return self


class MediaState(BaseModel):
    """What a party sends: microphone, camera and screen share on or off."""

    audio: bool
    video: bool
    screen: bool = False
