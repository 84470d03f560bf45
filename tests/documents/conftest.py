"""The documents the tests upload: a handbook (PDF) and depot procedures (Word)."""

import pytest

from tests.support.documents import REST_PERIODS, docx_bytes, pdf_bytes


@pytest.fixture
def handbook_pdf():
    return pdf_bytes(
        [
            [("h1", "1 Introduction"), ("p", "This handbook is for everyone who drives a bus for us.")],
            [("h1", "2 Duty and rest"), ("h2", "2.3 Rest periods"), ("p", REST_PERIODS)],
        ]
    )


@pytest.fixture
def depot_docx():
    return docx_bytes(
        [
            ("h1", "Our depots"),
            (
                "table",
                [
                    ["Depot", "Open", "Fuel bay"],
                    ["Northgate", "24 hours", "Yes"],
                    ["Riverside", "04:30 to 01:30", "Yes"],
                ],
            ),
            ("h1", "Fuelling"),
            ("p", "Diesel buses are refuelled at the end of each day by the night shunters, not by drivers."),
        ]
    )
