"""Word lists for the sample generator (fictional companies and people).

Company domains use the reserved ``.example`` TLD (RFC 2606) so that no
sample email can ever reach a real mailbox.
"""

from __future__ import annotations

COMPANY_FIRST = [
    "Acme",
    "Northwind",
    "Blue Harbor",
    "Brightline",
    "Cedar",
    "Cobalt",
    "Crescent",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor Point",
    "Helix",
    "Horizon",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lighthouse",
    "Maple",
    "Meridian",
    "Nimbus",
    "Oakridge",
    "Orbit",
    "Pinnacle",
    "Quartz",
    "Redwood",
    "Riverbend",
    "Sakura",
    "Silverline",
    "Summit",
    "Tidewater",
    "Vertex",
    "Willow",
    "Zenith",
    "Hikari",
    "Fuji",
    "Edelweiss",
    "Lumière",
    "Atlas",
    "Beacon",
]
COMPANY_SECOND = [
    "Analytics",
    "Logistics",
    "Health",
    "Software",
    "Systems",
    "Labs",
    "Partners",
    "Energy",
    "Foods",
    "Robotics",
    "Media",
    "Finance",
    "Insurance",
    "Retail",
    "Learning",
    "Mobility",
    "Networks",
    "Biotech",
    "Security",
    "Travel",
    "Data",
    "Cloud",
    "Studios",
    "Works",
]
# company-name suffix per region; ", Inc." puts a comma in some CSV values on purpose
SUFFIX = {
    "AMER": ["", ", Inc.", " LLC", " Corp"],
    "EMEA": [" GmbH", " Ltd", " SAS", " BV"],
    "APAC": [" K.K.", " Co., Ltd.", " Pte Ltd", ""],
    "LATAM": [" S.A.", " Ltda", "", " S.A. de C.V."],
}
REGIONS = ["AMER", "EMEA", "APAC", "LATAM"]
REGION_SHARE = [0.53, 0.20, 0.22, 0.05]

# (display first, display last, email first, email last) per language
EN_FIRST = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Chris",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Priya",
    "Wei",
    "Carlos",
    "Aisha",
]
EN_LAST = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Patel",
    "Nguyen",
    "Kim",
    "Chen",
]
JA_FIRST = [
    ("花子", "hanako"),
    ("太郎", "taro"),
    ("陽菜", "hina"),
    ("蓮", "ren"),
    ("結衣", "yui"),
    ("大翔", "hiroto"),
    ("美咲", "misaki"),
    ("健太", "kenta"),
    ("さくら", "sakura"),
    ("翔太", "shota"),
    ("愛", "ai"),
    ("悠真", "yuma"),
    ("葵", "aoi"),
    ("拓海", "takumi"),
]
JA_LAST = [
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
]
DE_FIRST = ["Lukas", "Anna", "Jonas", "Lea", "Felix", "Marie", "Jürgen", "Sophie", "Maximilian"]
DE_LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker"]
FR_FIRST = ["Camille", "Louis", "Chloé", "Hugo", "Léa", "Gabriel", "Manon", "Théo", "Zoé"]
FR_LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand"]

ROLES = ["admin", "analyst", "viewer", "product_manager"]
ROLE_SHARE = [0.10, 0.35, 0.40, 0.15]

CSM_SENIOR = ["Aiko Tanaka", "Ben Carter", "Chloé Martin"]
CSM_GROWTH = ["Diego Alvarez", "Emma Schmidt", "Farah Khan"]
CSM_POOL = "Digital CS Team"

WEB_APP = "-323232"  # Pendo's default app id for single-app subscriptions
MOBILE_APP = "5668600916475904"

# feature_id, name, key, app, P(a visitor adopts it), P(use on an active day), mean extra clicks
FEATURES = [
    ("core_events", "Core events", True, WEB_APP, 0.92, 0.42, 4.0),
    ("data_explorer", "Data Explorer", True, WEB_APP, 0.55, 0.22, 2.5),
    ("path_reports", "Path reports", True, WEB_APP, 0.35, 0.22, 1.5),
    ("guide_publishing", "Guide publishing", True, WEB_APP, 0.08, 0.12, 0.8),
    ("dashboards", "Dashboards", False, WEB_APP, 0.70, 0.22, 2.0),
    ("segment_builder", "Segment builder", False, WEB_APP, 0.30, 0.10, 1.0),
    ("funnels", "Funnels", False, WEB_APP, 0.25, 0.08, 1.0),
    ("retention", "Retention", False, WEB_APP, 0.18, 0.06, 0.8),
    ("nps_surveys", "NPS surveys", False, WEB_APP, 0.12, 0.05, 0.5),
    ("resource_center", "Resource Center", False, WEB_APP, 0.40, 0.06, 0.3),
    ("csv_export", "CSV export", False, WEB_APP, 0.35, 0.05, 0.5),
    ("integrations", "Integrations settings", False, WEB_APP, 0.10, 0.03, 0.3),
    ("mobile_sdk", "Mobile SDK setup", False, MOBILE_APP, 0.05, 0.05, 0.5),
    ("roadmaps", "Roadmaps", False, WEB_APP, 0.15, 0.05, 0.8),
    ("feedback_portal", "Feedback portal", False, WEB_APP, 0.20, 0.04, 0.5),
    ("workflows", "Workflows", False, WEB_APP, 0.08, 0.05, 1.2),
]

NPS_COMMENTS = {
    "en": {
        "high": ["Love the dashboards", "Saves our team hours every week", "Great support"],
        "mid": ["Good, but reports are slow", "Needs better exports"],
        "low": ["Too hard to set up", "We barely use it", "Missing the integrations we need"],
    },
    "ja": {
        "high": ["とても使いやすいです", "サポートが素晴らしい"],
        "mid": ["レポートが少し遅い"],
        "low": ["設定が難しすぎます", "ほとんど使っていません"],
    },
    "de": {"high": ["Sehr hilfreich"], "mid": ["Gut, aber langsam"], "low": ["Zu kompliziert"]},
    "fr": {"high": ["Très utile"], "mid": ["Bien, mais lent"], "low": ["Trop compliqué"]},
}

TICKET_PRIORITIES = ["low", "normal", "high", "urgent"]
