# Writes geolite2-city-test.mmdb: two networks in MaxMind's GeoLite2 City record layout, for native/src/geo.rs's tests.
# Run with the PyPI package mmdb-writer: python3 make-geolite2-city-test.py (the output is committed).
from mmdb_writer import MMDBWriter
from netaddr import IPSet

w = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type='GeoLite2-City', languages=['en', 'de'], description='spoor test data in the GeoLite2 City layout')
w.insert_network(IPSet(['81.2.69.0/24']), {
    'city': {'geoname_id': 2643743, 'names': {'en': 'London', 'de': 'London'}},
    'country': {'geoname_id': 2635167, 'iso_code': 'GB', 'names': {'en': 'United Kingdom', 'de': 'Vereinigtes Königreich'}},
    'subdivisions': [{'geoname_id': 6269131, 'iso_code': 'ENG', 'names': {'en': 'England', 'de': 'England'}}],
})
w.insert_network(IPSet(['2001:218::/32']), {
    'country': {'geoname_id': 1861060, 'iso_code': 'JP', 'names': {'en': 'Japan'}},
})
w.to_db_file('geolite2-city-test.mmdb')
