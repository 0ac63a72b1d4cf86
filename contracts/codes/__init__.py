"""National-standard code tables."""

from contracts.codes.area import area_name
from contracts.codes.ethnicity import ETHNICITY
from contracts.codes.sex import SEX
from contracts.codes.table import CodeTable

__all__ = ["ETHNICITY", "SEX", "CodeTable", "area_name"]
