"""统一社会信用代码 (GB 32100-2015): the check character, the alphabet, and the schema."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from techbridge.catalog.credit_code import ALPHABET, check_character, validation_error
from techbridge.catalog.schemas import OrganisationCreate, OrganisationUpdate

# Real, published codes (Tencent, a Fuzhou government body, China Mobile's parent).
VALID = ("914403001922038216", "91350100M000100Y43", "91110000100017643K")


@pytest.mark.parametrize("code", VALID)
def test_real_codes_are_valid(code: str) -> None:
    assert validation_error(code) is None
    assert check_character(code[:17]) == code[17]
    assert OrganisationCreate(name="机构", credit_code=code).credit_code == code


@pytest.mark.parametrize("code", VALID)
def test_every_other_check_character_is_rejected(code: str) -> None:
    for wrong in ALPHABET:
        if wrong == code[17]:
            continue
        problem = validation_error(code[:17] + wrong)
        assert problem == f"check character is {wrong!r} but should be {code[17]!r}"


@pytest.mark.parametrize("code", ["91440300192203821", "9144030019220382160", "", "9"])
def test_wrong_length_is_rejected(code: str) -> None:
    assert validation_error(code) == f"must be 18 characters, got {len(code)}"


@pytest.mark.parametrize("letter", ["I", "O", "Z", "S", "V"])
def test_letters_outside_the_alphabet_are_rejected(letter: str) -> None:
    # Replace a letter position of a valid code (the 'M' of the organisation code).
    code = "91350100" + letter + "000100Y43"
    assert len(code) == 18
    assert validation_error(code) == (f"contains characters not allowed in a credit code: {letter}")


def test_division_code_must_be_digits() -> None:
    code = "91A50100M000100Y4"
    code += check_character(code)
    assert "administrative division" in (validation_error(code) or "")


def test_schema_upper_cases_and_strips_before_checking() -> None:
    organisation = OrganisationCreate(name="机构", credit_code="  91350100m000100y43 ")
    assert organisation.credit_code == "91350100M000100Y43"
    update = OrganisationUpdate(credit_code="91110000100017643k")
    assert update.credit_code == "91110000100017643K"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("914403001922038217", "check character is '7' but should be '6'"),
        ("91440300192203821", "must be 18 characters, got 17"),
        ("91350100O000100Y43", "not allowed in a credit code: O"),
    ],
)
def test_schema_error_names_the_field_and_the_problem(code: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OrganisationCreate(name="机构", credit_code=code)
    (error,) = caught.value.errors()
    assert error["loc"] == ("credit_code",)
    assert "统一社会信用代码" in error["msg"]
    assert fragment in error["msg"]
