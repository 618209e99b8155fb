# Open rows belong to the role that made them, by OID: a role dropped and
# created again under the same name is another role.  Its polls never use
# the new role's mapping, the new role cannot cancel or read the old rows,
# and a queued row of a dropped role is not sent.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('role_oid', $mock, "log_statement = 'none'\n");
my $ep = "https://127.0.0.1:$mock->{https}";

sub as_bob
{
	my ($sql) = @_;
	return $node->psql('postgres', $sql, extra_params => [ '-U', 'bob' ]);
}

sub make_bob
{
	my ($ak, $secret) = @_;
	$node->safe_psql('postgres', qq{
CREATE ROLE bob LOGIN;
GRANT USAGE ON FOREIGN SERVER ali TO bob;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO bob;
CREATE USER MAPPING FOR bob SERVER ali OPTIONS (access_key_id '$ak', access_key_secret '$secret');
});
}

$node->safe_psql('postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', poll_interval_ms '200');
});
make_bob('testAccessKeyId', 'testAccessKeySecret');

# the first bob's call, accepted and tracked (the instance stays MODIFYING)
my ($rc, $id, $err) = as_bob(q{SELECT id FROM gw_modify_spec('oid-1', 'api.s1.medium', server => 'ali')});
is($rc, 0, 'the first bob resizes an instance') or diag($err);
mock_call($mock, 'POST', 'instances', { provider => 'aliyun', instance_id => 'oid-1', status => 'MODIFYING' });
# and one queued, not sent: its server waits for a read that hangs
mock_call($mock, 'POST', 'faults',
	{ provider => 'aliyun', instance_id => 'oid-2', action => 'DescribeInstances', kind => 'hang', ms => 3000 });
my ($rc2, $id2, $err2) = as_bob(q{SELECT gw_modify_spec_async('oid-2', 'api.s1.medium', server => 'ali')});
is($rc2, 0, 'and queues another') or diag($err2);
ok($node->poll_query_until('postgres',
		"SELECT count(*) > 0 FROM gw_audit WHERE id = $id AND last_polled_at IS NOT NULL"),
	'the worker polls the first');

# bob goes; a new role of the same name comes, with a key of its own
$node->safe_psql('postgres', q{DROP OWNED BY bob; DROP ROLE bob});
make_bob('LTAIbenchkey', 'benchsecret');

ok($node->poll_query_until('postgres',
		"SELECT error_code = 'NotTracked' FROM gw_audit WHERE id = $id"),
	'the tracking of the old bob\'s call ends');
# gw_audit and errors are matched with ok(=~), not like(): a failure must
# not print what may hold a secret
ok($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE id = $id")
	  =~ /the role that requested the call no longer exists/, 'because its role is gone');
ok($node->poll_query_until('postgres',
		"SELECT status = 'failed' FROM gw_audit WHERE id = $id2"),
	'the queued call of the old bob is not sent');
ok($node->safe_psql('postgres', "SELECT error_message FROM gw_audit WHERE id = $id2")
	  =~ /the role that requested the call no longer exists/, 'for the same reason');
is(mock_count($mock, ak => 'LTAIbenchkey'), 0, 'nothing was signed with the new bob\'s key');
is(mock_count($mock, provider => 'aliyun', action => 'ModifyInstanceSpec', instance_id => 'oid-2'), 0,
	'and the queued resize never left');

($rc, my $out, $err) = as_bob("SELECT gw_cancel($id)");
is($out, 'f', 'the new bob cannot cancel the old bob\'s row');
($rc, $out, $err) = as_bob("SELECT status FROM gw_wait($id, '0')");
ok($err =~ /permission denied for gw_audit row $id/, 'nor read it with gw_wait');

# the new bob's own calls work, and are his
($rc, $out, $err) = as_bob(q{SELECT status FROM gw_modify_spec('oid-3', 'api.s1.medium', server => 'ali')});
is($out, 'accepted', 'the new bob\'s own call goes through') or diag($err);
is($node->safe_psql('postgres',
		"SELECT requested_by_oid = (SELECT oid FROM pg_roles WHERE rolname = 'bob') FROM gw_audit WHERE instance_id = 'oid-3'"),
	't', 'and is tied to his OID');
$node->stop;
done_testing();
