# Without the preload, or from another database, the functions refuse with
# a clear error and a hint, and nothing is recorded.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('nopreload');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION gwresize;
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (access_key_id 'a', access_key_secret 'b');
});
my ($ret, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT gw_modify_spec('i1', 'api.s1.small')");
like($err, qr/55000: gwresize is not loaded through shared_preload_libraries/, 'no preload: a clear error');
like($err, qr/HINT:  Add gwresize to shared_preload_libraries/, 'with a hint');
is($node->safe_psql('postgres', 'SELECT count(*) FROM gw_audit'), '0', 'nothing recorded');
# settings exist and are superuser-only even so
$node->safe_psql('postgres', 'CREATE ROLE r LOGIN');
($ret, $out, $err) = $node->psql('postgres', "LOAD 'gwresize'; SET ROLE r; SET gwresize.allow_http = on");
like($err, qr/permission denied to set parameter "gwresize.allow_http"/, 'allow_http is superuser-only');

# preloaded, but called from a database the worker does not serve
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'gwresize'\ngwresize.database_name = 'postgres'\n");
$node->restart;
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', q{
CREATE EXTENSION gwresize;
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (access_key_id 'a', access_key_secret 'b');
});
($ret, $out, $err) = $node->psql('other',
	"\\set VERBOSITY verbose\nSELECT gw_modify_spec('i1', 'api.s1.small')");
like($err, qr/55000: the gwresize worker serves database "postgres", not "other"/, 'wrong database: a clear error');
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'"),
	'the worker runs in gwresize.database_name');
$node->stop;
done_testing();
