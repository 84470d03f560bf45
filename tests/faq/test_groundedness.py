"""The lexical check of generated answers, safe to run from many threads at once."""

from concurrent.futures import ThreadPoolExecutor

from chatapp.faq.groundedness import check, stems

ENTRY = "Install the VPN client, then request access in the IT portal; approvals take two working days."
SENTENCES = [
    "Installing the clients requires requesting approvals from the portals.",
    "Working days are counted from the approval of the request.",
    "Connections reconnect automatically when the laptops wake up.",
] * 40


def test_stemming_from_many_threads_gives_what_one_thread_gives():
    alone = [stems(sentence) for sentence in SENTENCES]

    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(pool.map(stems, SENTENCES))

    assert together == alone


def test_an_answer_its_entry_supports_passes_and_an_invented_command_does_not():
    assert check("Install the VPN client and request access in the IT portal [1].", {1: ENTRY}).grounded
    refused = check("Run `sudo vpn --force` to get access [1].", {1: ENTRY})
    assert not refused.grounded and "sudo vpn --force" in refused.reason
