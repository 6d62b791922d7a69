"""A tiny GTFS feed as text (MOTIS style), for tests, examples and demonstrations.

:data:`TINY_FEED` covers the awkward parts of GTFS in a few lines: a parent
station, calendar exceptions (a removed weekday, an added Saturday), a trip
past midnight (25:30), a frequency-based trip, a no-pickup stop, a stop with
no service, and two agencies. :func:`write_feed` writes any such dict as a
folder or zip.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

TINY_FEED: dict[str, str] = {
    "agency.txt": """agency_id,agency_name,agency_url,agency_timezone
ag1,Test Verkehr,https://example.org,Europe/Berlin
ag2,Other Bus,https://example.org,Europe/Berlin
""",
    "stops.txt": """stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station
STA,Central Station,49.4000,8.6000,1,
A,Central Station,49.4000,8.6001,0,STA
A2,Central Station,49.4002,8.6003,0,STA
B,Market,49.4000,8.6100,,
C,Bridge,49.4000,8.6200,,
D,Zoo,49.4000,8.6300,,
E,Park,49.4100,8.6300,,
Z,Nowhere,49.4500,8.7000,,
""",
    "routes.txt": """route_id,agency_id,route_short_name,route_long_name,route_type
r1,ag1,1,Central - Bridge,3
r2,ag1,2,Bridge - Park,0
r3,ag2,X,Express,3
""",
    "trips.txt": """route_id,service_id,trip_id,trip_headsign,shape_id
r1,WK,t1,Bridge,s1
r1,WK,t2,Bridge,s1
r2,WK,t3,Park,
r3,WK,t4,Zoo,
r1,WK,tn,Market,
r2,WK,tf,Park,
r1,EXTRA,ts,Bridge,
""",
    "stop_times.txt": """trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type
t1,08:00:00,08:00:00,A,1,,
t1,08:10:00,08:11:00,B,2,,
t1,08:20:00,08:20:00,C,3,,
t2,08:30:00,08:30:00,A,1,,
t2,08:40:00,08:41:00,B,2,,
t2,08:50:00,08:50:00,C,3,,
t3,08:25:00,08:25:00,C,1,,
t3,08:35:00,08:35:00,D,2,,
t3,08:45:00,08:45:00,E,3,,
t4,08:05:00,08:05:00,A2,1,,
t4,,,B,2,1,1
t4,08:40:00,08:40:00,D,3,,
tn,25:30:00,25:30:00,A,1,,
tn,25:40:00,25:40:00,B,2,,
tf,07:00:00,07:00:00,C,1,,
tf,07:05:00,07:05:00,D,2,,
tf,07:12:00,07:12:00,E,3,,
ts,10:00:00,10:00:00,A,1,,
ts,10:10:00,10:10:00,B,2,,
""",
    "calendar.txt": """service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date
WK,1,1,1,1,1,0,0,20220901,20220930
""",
    "calendar_dates.txt": """service_id,date,exception_type
WK,20220915,2
EXTRA,20220917,1
""",
    "frequencies.txt": """trip_id,start_time,end_time,headway_secs
tf,08:00:00,09:00:00,600
""",
    "shapes.txt": """shape_id,shape_pt_lat,shape_pt_lon,shape_pt_sequence
s1,49.4000,8.6001,1
s1,49.4010,8.6050,2
s1,49.4000,8.6100,3
s1,49.3990,8.6150,4
s1,49.4000,8.6200,5
""",
}


def write_feed(target: Path, files: dict[str, str], *, as_zip: bool = False) -> Path:
    """Write GTFS ``files`` (name -> CSV text) as a folder, or as ``target`` zip; return the path."""
    target = Path(target)
    if as_zip:
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w") as archive:
            for name, text in files.items():
                archive.writestr(name, text)
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    return target
