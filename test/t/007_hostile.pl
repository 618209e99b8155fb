# Hostile endpoints: every answer is input.  For each kind of broken or
# malicious answer (deep nesting, huge fields, NULs, invalid UTF-8 in bodies
# and headers, lying Content-Length, endless bodies, 1xx storms, redirects,
# a certificate from the wrong CA, close-delimited HTTP/1.0 bodies, huge or
# negative retry hints, HTML where JSON belongs) the worker survives (same
# pid), the row ends final with a specific code, and the number of requests
# that reached the mock is bounded and known.  Then a pg_dump of the
# database restores every gw_audit row, and the audit reads cleanly in
# LATIN1.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use GwTest;

my $mock = start_mock();
my $node = new_gw_node('hostile', $mock);
my $ep = "https://127.0.0.1:$mock->{https}";
$node->safe_psql(
	'postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep',
           max_retries '2', timeout_ms '3000', poll_interval_ms '300', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001', endpoint '$ep',
           iam_endpoint '$ep', max_retries '2', timeout_ms '3000', poll_interval_ms '300',
           read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (access_key 'HWTESTAK0001', secret_key 'hwTestSecretKey0001');
CREATE SERVER hwp FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001', endpoint '$ep',
           iam_endpoint '$ep', max_retries '1', timeout_ms '3000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hwp
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
});

sub worker_pid
{
	$node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
	return $node->safe_psql('postgres',
		"SELECT pid FROM pg_stat_activity WHERE backend_type = 'gwresize worker'");
}

sub fault
{
	my (%rule) = @_;
	mock_call($mock, 'POST', 'faults', { faults => [ \%rule ] });
}

# queue a call, wait until its row is final; returns "status|error_code|attempts"
sub run_call
{
	my ($sql, $inst) = @_;
	$node->safe_psql('postgres', $sql);
	local $PostgreSQL::Test::Utils::timeout_default = 60;
	$node->poll_query_until('postgres',
		"SELECT status NOT IN ('queued', 'sending', 'unknown') FROM gw_audit WHERE instance_id = '$inst'"
	) or return 'not final';
	return $node->safe_psql('postgres',
		"SELECT status || '|' || coalesce(error_code, '') || '|' || attempts FROM gw_audit WHERE instance_id = '$inst'");
}

sub ali { my ($inst, $spec) = @_; return "SELECT gw_modify_spec_async('$inst', '" . ($spec // 'api.s1.medium') . "', server => 'ali')"; }
sub hw { my ($inst, $srv) = @_; return "SELECT gw_resize_async('$inst', 'PROFESSIONAL', '" . ($srv // 'hw') . "')"; }
sub col { my ($inst, $expr) = @_; return $node->safe_psql('postgres', "SELECT $expr FROM gw_audit WHERE instance_id = '$inst'"); }
sub sent { return mock_count($mock, instance_id => $_[0], @_[ 1 .. $#_ ]); }

my $pid = worker_pid();

# -- deep nesting: never parsed, never a crash; the call is retried (the
#    Token makes it safe) and ends MalformedResponse
fault(provider => 'aliyun', instance_id => 'nest-a', kind => 'nested', depth => 15000, count => -1);
like(run_call(ali('nest-a'), 'nest-a'), qr/^failed\|MalformedResponse\|3$/,
	'15,000 levels of JSON: failed MalformedResponse after 3 attempts');
is(sent('nest-a'), 3, 'three requests reached the mock');
like(col('nest-a', 'response::text'), qr/"unparsable"/, 'the stored response says it was not parsed');
fault(provider => 'huawei', instance_id => 'nest-h', action => 'resize', kind => 'nested', status => 202, count => -1);
like(run_call(hw('nest-h'), 'nest-h'), qr/^failed\|MalformedResponse\|3$/,
	'Huawei: a nested 202 is not the documented answer: failed MalformedResponse');
is(sent('nest-h', action => 'resize'), 3, 'three resize requests reached the mock');
is(sent('nest-h', action => 'show'), 2, 'each re-send came after reading the instance');
fault(provider => 'iam', kind => 'nested', status => 201, count => 1);
like(run_call(hw('nest-i', 'hwp'), 'nest-i'), qr/^failed\|IAM\.NoToken\|0$/,
	'IAM: a nested answer without a token fails the call, nothing sent');
is(sent('nest-i', action => 'resize'), 0, 'no resize was sent');
is(worker_pid(), $pid, 'the worker survived the nesting');

# a tracking poll answered with deep nesting: the poll fails, tracking goes on
mock_call($mock, 'POST', 'instances',
	{ provider => 'aliyun', instance_id => 'nest-t', resize_delay_ms => 1500 });
like(run_call(ali('nest-t'), 'nest-t'), qr/^accepted\|\|1$/, 'a resize is accepted');
fault(provider => 'aliyun', instance_id => 'nest-t', action => 'DescribeInstances', kind => 'nested', count => 2);
ok($node->poll_query_until('postgres',
		"SELECT status = 'succeeded' FROM gw_audit WHERE instance_id = 'nest-t'"),
	'tracking survives nested poll answers and ends succeeded');
is(worker_pid(), $pid, 'the worker survived the nested polls');

# -- huge fields: each kept field is bounded, and so is the ERROR DETAIL
fault(provider => 'aliyun', instance_id => 'huge-a', kind => 'huge_fields', bytes => 300000);
my ($rc, $out, $err) = $node->psql('postgres',
	"SELECT gw_modify_spec('huge-a', 'api.s1.medium', server => 'ali')");
like($err, qr/rejected the resize/, 'a 300 kB code, message and request id: rejected');
ok(length($err) < 4000, 'the error message stays small (' . length($err) . ' bytes)');
is(col('huge-a', "octet_length(error_code) <= 300 AND octet_length(request_id) <= 300"
	  . " AND octet_length(error_message) <= 2100 AND error_message LIKE '%[truncated]'"),
	't', 'error_code, request_id and error_message are bounded and say they were cut');
is(col('huge-a', "response->>'truncated'"), 'true', 'the response is summarised, not kept');
fault(provider => 'aliyun', instance_id => 'huge-b', kind => 'huge_fields', bytes => 900000);
like(run_call(ali('huge-b'), 'huge-b'), qr/^failed\|ResponseTooLarge\|1$/,
	'900 kB fields (a 2.7 MB body): ResponseTooLarge, not retried');

# -- NULs, raw and escaped
fault(provider => 'aliyun', instance_id => 'nul-a', kind => 'nul');
like(run_call(ali('nul-a'), 'nul-a'), qr/^failed\|NulCode\|1$/, 'raw NULs are dropped');
fault(provider => 'huawei', instance_id => 'nul-h', kind => 'nul', escaped => JSON::PP::true);
like(run_call(hw('nul-h'), 'nul-h'), qr/^failed\|HTTP400\|1$/,
	'an escaped \\u0000 makes the body unusable as JSON: HTTP400');
like(col('nul-h', 'response::text'), qr/unparsable/, 'and its response is kept as a string');

# -- invalid UTF-8 in bodies and headers
fault(provider => 'aliyun', instance_id => 'utf-a', kind => 'bad_utf8');
like(run_call(ali('utf-a'), 'utf-a'), qr/^failed\|/, 'invalid UTF-8 in an error: failed');
is(col('utf-a', "error_code ~ '\\?' AND request_id ~ '\\?' AND error_message ~ '\\?'"), 't',
	'the bad bytes are replaced by ?');
fault(provider => 'aliyun', instance_id => 'utf-b', kind => 'bad_utf8', status => 200);
like(run_call(ali('utf-b'), 'utf-b'), qr/^accepted\|\|1$/, 'a 200 with a bad RequestId: accepted');
like(col('utf-b', 'request_id'), qr/^RID-.*\?/, 'its request id is cleaned');
fault(provider => 'huawei', instance_id => 'utf-h', action => 'resize', kind => 'bad_utf8', status => 202);
like(run_call(hw('utf-h'), 'utf-h'), qr/^accepted\|\|1$/, 'Huawei: a 202 whose job id has bad bytes: accepted');
like(col('utf-h', 'job_id'), qr/^JOB-.*\?/, 'its job id is cleaned');
fault(provider => 'huawei', instance_id => 'utf-h2', kind => 'bad_utf8');
like(run_call(hw('utf-h2'), 'utf-h2'), qr/^failed\|/, 'Huawei: invalid UTF-8 in an error: failed');
is(worker_pid(), $pid, 'the worker survived the bad bytes');

# -- a Content-Length that lies: a transport error, retried
fault(provider => 'aliyun', instance_id => 'len-a', kind => 'lying_length', count => -1);
like(run_call(ali('len-a'), 'len-a'), qr/^failed\|TransportError\|3$/,
	'a body shorter than its Content-Length: TransportError after 3 attempts');
is(sent('len-a'), 3, 'three requests');

# -- an endless chunked body: cut at 1 MB, not retried
my $t0 = time;
fault(provider => 'aliyun', instance_id => 'end-a', kind => 'endless', max_ms => 30000);
like(run_call(ali('end-a'), 'end-a'), qr/^failed\|ResponseTooLarge\|1$/,
	'an endless body: ResponseTooLarge after one attempt');
ok(time - $t0 < 20, sprintf('and quickly (%.1f s)', time - $t0));

# -- 1xx storms: interim answers' headers are ignored
fault(provider => 'huawei', instance_id => 'info-h', action => 'resize', kind => 'info_storm',
	n => 1000, strip_final_request_id => JSON::PP::true);
like(run_call(hw('info-h'), 'info-h'), qr/^accepted\|\|1$/, '1,000 interim answers, then a 202: accepted');
is(col('info-h', "coalesce(request_id, 'none')"), 'none',
	'no request id is taken from an interim answer');
is(col('info-h', 'job_id IS NOT NULL'), 't', 'the job id is the final answer\'s');
fault(provider => 'aliyun', instance_id => 'info-a', kind => 'info_storm', n => -1, max_ms => 5000);
like(run_call(ali('info-a'), 'info-a'), qr/^accepted\|\|2$/,
	'endless interim answers are cut (libcurl caps headers at 300 kB); the re-send is accepted');
is(sent('info-a', action => 'ModifyInstanceSpec'), 2, 'two requests');

# -- a redirect is not followed
fault(provider => 'aliyun', instance_id => 'redir-a', kind => 'redirect');
like(run_call(ali('redir-a'), 'redir-a'), qr/^failed\|HTTP302\|1$/, 'a 302 is not followed: failed HTTP302');

# -- HTTP/1.0, close-delimited: a valid answer
fault(provider => 'aliyun', instance_id => 'h10-a', kind => 'http10');
like(run_call(ali('h10-a'), 'h10-a'), qr/^accepted\|\|1$/, 'an HTTP/1.0 close-delimited answer is read');
fault(provider => 'huawei', instance_id => 'h10-h', action => 'resize', kind => 'http10');
like(run_call(hw('h10-h'), 'h10-h'), qr/^accepted\|\|1$/, 'Huawei too');

# -- retry hints
fault(provider => 'aliyun', instance_id => 'hint-a', kind => 'retry_hint', value => '2000000000');
($rc, $out, $err) = $node->psql('postgres',
	"\\set VERBOSITY verbose\nSELECT gw_modify_spec('hint-a', 'api.s1.medium', server => 'ali')");
like($err, qr/53400/, 'a 23-day x-acs-retry-after ends the call throttled: 53400');
like(col('hint-a', "status || '|' || error_code || '|' || attempts"), qr/^failed\|RetryAfterTooLong\|1$/,
	'the row: failed RetryAfterTooLong after one attempt');
like(col('hint-a', 'error_message'), qr/Throttling\.User.*2000000000 ms/, 'the hint is kept in the row');
fault(provider => 'huawei', instance_id => 'hint-h', action => 'resize', kind => 'retry_hint', value => '3000000');
like(run_call(hw('hint-h'), 'hint-h'), qr/^failed\|RetryAfterTooLong\|1$/,
	'Huawei Retry-After of 3,000,000 s: RetryAfterTooLong, no int overflow');
fault(provider => 'huawei', instance_id => 'hint-x', action => 'resize', kind => 'retry_hint',
	value => '99999999999999999999');
like(run_call(hw('hint-x'), 'hint-x'), qr/^failed\|RetryAfterTooLong\|1$/, 'a 20-digit hint saturates');
fault(provider => 'aliyun', instance_id => 'hint-n', kind => 'retry_hint', value => '-5');
fault(provider => 'aliyun', instance_id => 'hint-n', kind => 'retry_hint', value => 'abc');
like(run_call(ali('hint-n'), 'hint-n'), qr/^accepted\|\|3$/,
	'negative and non-numeric hints are ignored: our backoff, then accepted');

# -- HTML where JSON belongs
fault(provider => 'huawei', instance_id => 'html-h', action => 'resize', kind => 'html', status => 200);
like(run_call(hw('html-h'), 'html-h'), qr/^accepted\|\|2$/,
	'Huawei: a 200 HTML page is not success; after reading the instance it is re-sent');
is(mock_call($mock, 'GET', 'instances?instance_id=html-h')->[0]{resizes}, 1, 'the instance was resized once');
fault(provider => 'huawei', instance_id => 'html-h2', action => 'resize', kind => 'html', status => 202, count => -1);
like(run_call(hw('html-h2'), 'html-h2'), qr/^failed\|MalformedResponse\|3$/,
	'always HTML: failed MalformedResponse');
fault(provider => 'aliyun', instance_id => 'html-a', kind => 'html');
like(run_call(ali('html-a'), 'html-a'), qr/^accepted\|\|2$/, 'Alibaba: HTML then JSON: accepted on the re-send');
is(worker_pid(), $pid, 'the worker survived every hostile answer');

# -- an IAM token that claims to expire within the refresh margin (5 min):
#    used, not fetched again for every call (before, the worker fetched
#    tokens in a loop); times from the provider never overflow
mock_call($mock, 'POST', 'config', { token_ttl_s => 200 });
my $iam0 = mock_count($mock, provider => 'iam');
like(run_call(hw("ttl-$_", 'hwp'), "ttl-$_"), qr/^accepted\|\|1$/, "ttl-$_: accepted with a short-lived token")
  for 1 .. 3;
is(mock_count($mock, provider => 'iam') - $iam0, 1, 'one IAM token served the three calls');
mock_call($mock, 'POST', 'config', { token_ttl_s => 86400 });

# -- a certificate from another CA: a configuration error, not retried
my $other = PostgreSQL::Test::Utils::tempdir();
system('sh', "$ENV{GW_ROOT}/test/mock/make-certs.sh", "$other/certs") == 0 or die;
$node->safe_psql('postgres', "ALTER SYSTEM SET gwresize.ca_file = '$other/certs/ca.pem'");
$node->reload;
usleep(300_000);
like(run_call(ali('ca-a'), 'ca-a'), qr/^failed\|TLSVerificationFailed\|1$/,
	'a peer signed by another CA: TLSVerificationFailed after one attempt');
is(sent('ca-a'), 0, 'nothing reached the mock');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET gwresize.ca_file');
$node->reload;
usleep(300_000);

# -- the audit reads in LATIN1 and survives pg_dump / restore
my ($n) = $node->safe_psql('postgres', 'SELECT count(*) FROM gw_audit');
($rc, $out, $err) = $node->psql('postgres',
	"SET client_encoding = LATIN1; SELECT error_code, error_message, request_id, job_id, response::text FROM gw_audit");
is($rc, 0, 'every gw_audit field reads with client_encoding = LATIN1');
my $dump = PostgreSQL::Test::Utils::tempdir() . '/audit.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump ],
	'the dump restores without an error');
is($node->safe_psql('restored', 'SELECT count(*) FROM gw_audit'), $n, "all $n gw_audit rows are restored");
is(worker_pid(), $pid, 'the worker is the one that started');

done_testing();
