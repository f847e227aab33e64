from billing_portal.billing.wording import counted


def test_english_counts_one_and_other_with_grouped_digits():
    assert counted(1, "alert", "alerts") == "1 alert"
    assert counted(0, "alert", "alerts") == "0 alerts"
    assert counted(2, "alert", "alerts", "en_GB") == "2 alerts"
    assert counted(12345, "request", "requests") == "12,345 requests"


def test_korean_has_one_form_and_its_own_digit_grouping():
    # CLDR: Korean nouns do not change with the count; the "other" form always applies.
    assert counted(1, "건", "건", "ko_KR") == "1 건"
    assert counted(1, "one", "other", "ko_KR") == "1 other"
    assert counted(1000, "one", "other", "de_DE") == "1.000 other"
