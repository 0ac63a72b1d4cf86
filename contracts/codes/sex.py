"""GB/T 2261.1-2003 个人基本信息分类与代码 第1部分：人的性别代码."""

from contracts.codes.table import CodeTable

SEX = CodeTable(
    "GB/T 2261.1",
    {"0": "未知的性别", "1": "男性", "2": "女性", "9": "未说明的性别"},
    aliases={"男": "1", "女": "2", "未知": "0", "未说明": "9"},
)
