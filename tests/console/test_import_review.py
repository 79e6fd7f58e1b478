"""The import's held-back rows in the console: a row with a known worker's name and birth date under another ID
number waits on the import page, and the bureau merges it into the known worker keeping the ID number on record.
The known worker is the test's own, so no demo record changes."""

from __future__ import annotations

import random
import uuid

from shared.validators import id_number_check_char


def id_number(birth: str, seq: int) -> str:
    first17 = f"150624{birth}{seq:03d}"
    return first17 + id_number_check_char(first17)


def test_the_bureau_merges_a_held_back_import_row(console, stack, tmp_path):
    admin = stack.api("admin")
    birth = f"{random.randrange(1960, 2000)}{random.randrange(1, 13):02d}{random.randrange(1, 29):02d}"
    seqs = random.sample(range(1, 999, 2), 2)  # both odd: the same sex
    name = f"核对{uuid.uuid4().hex[:4]}"
    known = admin.post("/registry/v1/workers", {"name": name, "id_number": id_number(birth, seqs[0])})
    incoming = id_number(birth, seqs[1])
    sheet = tmp_path / "review.csv"
    sheet.write_text(f"姓名,身份证号,手机号\r\n{name},{incoming},13800000000\r\n", encoding="utf-8-sig")

    console.login("admin")
    console.goto("import", "import")
    console.find("#import-file").send_keys(str(sheet))
    console.find("#import-submit").click()
    console.find("#import-result")
    assert console.text("#import-reviews").endswith("1")
    console.goto("import", "import")  # the held-back row is listed for the bureau
    review = next(r for r in admin.get("/registry/v1/workers/import/reviews")["items"] if r["id_number"] == incoming)
    row = console.find(f'#import-reviews-table tr[data-id="{review["id"]}"]')
    assert name in row.text and incoming in row.text and known["id"] in row.find_element(
        "css selector", "a").get_attribute("href")
    console.screenshot("import-review")
    row.find_element("css selector", ".merge-existing").click()
    console.wait(lambda d: not console.all(f'#import-reviews-table tr[data-id="{review["id"]}"]'))
    decided = admin.get(f"/registry/v1/workers/import/reviews/{review['id']}")
    assert (decided["status"], decided["kept"]) == ("merged", "existing")
    assert admin.get(f"/registry/v1/workers/{known['id']}")["phone"].endswith("0000")
