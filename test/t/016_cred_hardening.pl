# The worker's credentials, hardened: metadata requests never go through a
# proxy the postmaster's environment names; credential steps do not use up
# the retries of the read before a change; ALTERs of a mapping during a
# drain cost one fetch each, not one per call; a refused synchronous call
# keeps its DETAIL and HINT; IAM tokens of 20 and 40 kB are used.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('cred_hardening', $mock, "log_statement = 'none'\n");
# the gateways as "localhost", the metadata services as 127.0.0.1 (plain
# http for Huawei's, as the real ones are): a proxy sees which is which
my $ep = "https://localhost:$mock->{https}";
my $meta_https = "https://127.0.0.1:$mock->{https}";
my $meta_http = "http://127.0.0.1:$mock->{http}";
my $role = 'acs:ram::1234567890123456:role/gwresize-resizer';
metadata_urls($node, $meta_https, $meta_http);
$node->safe_psql('postgres', qq{
CREATE SERVER ali_role FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', sts_endpoint '$ep', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_role OPTIONS (ram_role_name 'gwresize-ecs-role', role_arn '$role');
CREATE SERVER hw_agency FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', poll_interval_ms '3600000', max_retries '2');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_agency OPTIONS (ecs_agency 'true');
CREATE SERVER hw_iam FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', iam_endpoint '$ep', read_before_resize 'false', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_iam OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', poll_interval_ms '200');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
});

sub ali { my ($i, $s) = @_; "SELECT status || '|' || coalesce(error_code, '') FROM gw_modify_spec('$i', 'api.s1.medium', server => '$s')" }
sub hw { my ($i, $s) = @_; "SELECT status || '|' || coalesce(error_code, '') FROM gw_resize('$i', 'PROFESSIONAL', server => '$s')" }
sub issued { mock_call($mock, 'GET', 'credentials', undef)->{issued} }

# -- a proxy in the postmaster's environment: the gateways go through it,
#    the metadata services never
{
	local $ENV{http_proxy} = "http://127.0.0.1:$mock->{http}";
	local $ENV{https_proxy} = "http://127.0.0.1:$mock->{http}";
	local $ENV{HTTPS_PROXY} = "http://127.0.0.1:$mock->{http}";
	# nothing exempted by the environment: the bypass must be the extension's
	delete local $ENV{no_proxy};
	delete local $ENV{NO_PROXY};
	$node->restart;
}
# only where their requests went matters (psql in list context: what they
# print is captured, not written to the test's output)
() = $node->psql('postgres', ali('px-a', 'ali_role'));
() = $node->psql('postgres', hw('px-h', 'hw_agency'));
my $proxied = mock_call($mock, 'GET', 'requests?provider=proxied', undef);
ok((grep { $_->{path} =~ /localhost/ } @$proxied) > 0, 'the proxy is in effect: the gateway calls went to it');
is(scalar(grep { $_->{path} =~ /127\.0\.0\.1/ } @$proxied), 0, 'no metadata request went to it');
ok(mock_count($mock, provider => 'aliyun_metadata', action => 'ram_credentials') >= 1
	  && mock_count($mock, provider => 'huawei_metadata', action => 'securitykey') >= 1,
	'both metadata services were asked, directly');
$node->restart;

# -- credential steps (a metadata token, the role's keys, AssumeRole) do not
#    use up the retries of the read before the change (max_retries 3)
mock_call($mock, 'POST', 'faults',
	{ faults => [ { provider => 'aliyun', action => 'DescribeInstances', kind => 'status', status => 503, count => 1 },
		{ provider => 'huawei', action => 'show', kind => 'status', status => 503, count => 1 } ] });
is($node->safe_psql('postgres', ali('aux-a', 'ali_role')), 'accepted|',
	'aliyun: after three credential steps the read is retried once');
is($node->safe_psql('postgres', hw('aux-h', 'hw_agency')), 'accepted|',
	'huawei: after two (a session token, the agency\'s keys) with max_retries 2, likewise');
is(mock_count($mock, instance_id => 'aux-a', action => 'DescribeInstances', status => 503)
	  + mock_count($mock, instance_id => 'aux-h', action => 'show', status => 503),
	2, '... the read of each was the one answered 503');

# -- a synchronous call refused by the worker: the whole error (matched with
#    ok(=~), not like(): a failure must not print what may hold a secret)
is($node->safe_psql('postgres', ali('busy-1', 'ali')), 'accepted|', 'a resize is accepted');
mock_call($mock, 'POST', 'instances', { provider => 'aliyun', instance_id => 'busy-1', status => 'MODIFYING' });
my ($rc, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n" . ali('busy-1', 'ali'));
ok($err =~ /ERROR:  55006: instance "busy-1" already has a resize in progress/, 'a second one is refused (55006)');
ok($err =~ /DETAIL:  gw_audit row \d+ was accepted and the provider is still applying it\./,
	'with the DETAIL naming the open row');
ok($err =~ /HINT:  Wait for it to finish \(gw_inflight\), or end its tracking with gw_cancel\(\d+\)\./,
	'and the HINT');

# -- Huawei IAM tokens of 20 and 40 kB (PKI tokens grow with the catalog)
foreach my $bytes (20000, 40000)
{
	mock_call($mock, 'POST', 'config', { iam_token_bytes => $bytes });
	mock_call($mock, 'POST', 'revoke_tokens', {});
	is($node->safe_psql('postgres', hw("big-$bytes", 'hw_iam')), 'accepted|',
		"an IAM token of $bytes bytes is used");
}
mock_call($mock, 'POST', 'config', { iam_token_bytes => 4003 });

# -- a set still signing a request in flight is not freed by an ALTER: the
#    late answer that echoes it is masked with it
$node->safe_psql('postgres', qq{
CREATE SERVER ali_late FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', read_before_resize 'false', max_retries '0', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_late OPTIONS (ram_role_name 'gwresize-ecs-role');
});
mock_call($mock, 'POST', 'faults',
	{ provider => 'aliyun', instance_id => 'late-1', kind => 'echo', ms => 1500, count => 1 });
my $late = $node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('late-1', 'api.s1.medium', server => 'ali_late')");
$node->poll_query_until('postgres', "SELECT status = 'sending' FROM gw_audit WHERE id = $late")
  or die "the call did not leave";
$node->safe_psql('postgres', "ALTER SERVER ali_late OPTIONS (ADD sts_endpoint '$ep')");
is($node->safe_psql('postgres', ali('late-2', 'ali_late')), 'accepted|',
	'after an ALTER, a call obtains a new set while the first one\'s answer is on its way');
$node->poll_query_until('postgres', "SELECT status = 'failed' FROM gw_audit WHERE id = $late")
  or die "the late answer did not come";
my $late_row = $node->safe_psql('postgres', "SELECT t::text FROM gw_audit t WHERE id = $late");
ok($late_row =~ /\*\*\*/, 'the late answer echoed the first set, masked');
my $leaked = grep { index($late_row, $_) >= 0 }
  @{ mock_call($mock, 'GET', 'credentials?reveal=1', undef)->{secrets} };
is($leaked, 0, 'none of the set it was signed with is in its row');

# -- ALTER USER MAPPING twice during a 600-call drain whose credentials
#    expire every 3 s: a fetch per expiry and per ALTER, no more
$node->safe_psql('postgres', qq{
CREATE SERVER ali_drain FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', sts_endpoint '$ep', read_before_resize 'false', poll_interval_ms '3600000', requests_per_second '150');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_drain OPTIONS (ram_role_name 'gwresize-ecs-role', role_arn '$role', role_session_name 'gw-0');
});
mock_call($mock, 'POST', 'config', { temp_ttl_s => 3 });
my $b = issued();
my $seq0 = mock_call($mock, 'GET', 'stats', undef)->{count};
my $t0 = time;
$node->safe_psql('postgres',
	"SELECT gw_modify_spec_async('drain-' || i, 'api.s1.medium', server => 'ali_drain') FROM generate_series(1, 600) i");
foreach my $k (1, 2)
{
	usleep(1_300_000);
	$node->safe_psql('postgres',
		"ALTER USER MAPPING FOR CURRENT_USER SERVER ali_drain OPTIONS (SET role_session_name 'gw-$k')");
}
my ($statuses, $done) = drain_statuses($node, 'ali_drain', 600);
my $secs = $done - $t0;
mock_call($mock, 'POST', 'config', { temp_ttl_s => 3600 });
is($statuses, 'accepted', 'every call of the drain was accepted');
my $assumed = issued()->{sts} - $b->{sts};
my $most = int($secs / 1.4) + 2 + 2;
ok($assumed >= 3 && $assumed <= $most,
	sprintf('%d sets assumed in %.1f s with 2 ALTERs (one per expiry and per ALTER: at most %d)',
		$assumed, $secs, $most));
is(scalar(grep { ($_->{status} // 0) >= 400 } @{ mock_call($mock, 'GET', "requests?provider=sts&since=$seq0", undef) }),
	0, 'none of them refused');
$node->stop;
done_testing();
