"""National-standard code tables: GB/T 2261.1 sex, GB/T 3304 ethnicity, GB/T 2260 areas."""

from __future__ import annotations

import pytest

from contracts.codes import ETHNICITY, SEX, area_name


def test_sex_table() -> None:
    assert SEX.standard == "GB/T 2261.1"
    assert dict(SEX) == {"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"}
    assert len(SEX) == 4


@pytest.mark.parametrize(
    ("given", "code"),
    [("男", "1"), ("女", "2"), ("男性", "1"), ("女性", "2"), ("1", "1"), (" 2 ", "2"), ("9", "9")],
)
def test_sex_lookup(given: str, code: str) -> None:
    assert SEX.lookup(given) == code


@pytest.mark.parametrize("given", ["3", "M", "", "男的"])
def test_sex_unknown(given: str) -> None:
    assert SEX.lookup(given) is None


def test_ethnicity_table() -> None:
    assert ETHNICITY.standard == "GB/T 3304"
    assert len(ETHNICITY) == 58
    assert set(ETHNICITY) == {f"{i:02d}" for i in range(1, 57)} | {"97", "98"}
    assert ETHNICITY["01"] == "汉族"
    assert ETHNICITY["03"] == "回族"
    assert ETHNICITY["56"] == "基诺族"
    assert ETHNICITY["97"] == "其他"
    assert ETHNICITY["98"] == "外国血统中国籍人士"
    assert len(set(ETHNICITY.values())) == 58


@pytest.mark.parametrize(
    ("given", "code"),
    [
        ("汉族", "01"),
        ("汉", "01"),
        ("01", "01"),
        ("1", "01"),  # a spreadsheet that stored 01 as a number
        ("回", "03"),
        ("回族", "03"),
        ("维吾尔", "05"),
    ],
)
def test_ethnicity_lookup(given: str, code: str) -> None:
    assert ETHNICITY.lookup(given) == code


@pytest.mark.parametrize("given", ["99", "100", "火星族", "00"])
def test_ethnicity_unknown(given: str) -> None:
    assert ETHNICITY.lookup(given) is None


def test_area_name() -> None:
    name = area_name("320104")
    assert name is not None
    assert "江苏省" in name
    assert "秦淮区" in name
    assert area_name("320102") == "江苏省玄武区"


@pytest.mark.parametrize("code", ["999999", "32010", "3201040", "abcdef", ""])
def test_area_unknown(code: str) -> None:
    assert area_name(code) is None


def test_retired_area_code() -> None:
    # 110103 崇文区 was merged into 东城区 in 2010; 320103 白下区 into 秦淮区 in 2013
    assert area_name("110103") is None
    assert area_name("110103", 1980) == "北京市崇文区"
    assert area_name("110103", 2010) == "北京市崇文区"
    assert area_name("110103", 2011) is None
    assert area_name("320103") is None
    assert area_name("320103", 2000) == "江苏省白下区"
    assert area_name("320103", 2014) is None
    assert area_name("110101") == "北京市东城区"


def test_area_code_created_later() -> None:
    # 320104 秦淮区 is listed from 1983 on: not in use in 1960, but in use since then
    assert area_name("320104", 1960) is None
    assert area_name("320104", 1960, since=True) == "江苏省秦淮区"
    assert area_name("110103", 1980, since=True) == "北京市崇文区"
    assert area_name("110103", 2011, since=True) is None
