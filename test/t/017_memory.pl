# Secrets the worker let go of are gone from its memory: after credentials
# were obtained, refreshed and retired (the RAM role's keys before
# AssumeRole, the sets that expired, the metadata session tokens), the
# worker's writable memory (heap and anonymous mappings, read through
# /proc/PID/mem) holds none of them; only the set in use may be there.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use GwTest qw(:DEFAULT worker_pid);

my $mock = start_mock();
my $node = new_gw_node('memory', $mock, "log_statement = 'none'\n");
my $ep = "https://127.0.0.1:$mock->{https}";
my $role = 'acs:ram::1234567890123456:role/gwresize-resizer';
metadata_urls($node, $ep, $ep);
$node->safe_psql('postgres', qq{
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '$ep', sts_endpoint '$ep', read_before_resize 'false', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (ram_role_name 'gwresize-ecs-role', role_arn '$role');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', endpoint '$ep', read_before_resize 'false', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (ecs_agency 'true');
});
usleep(300_000);

# sets that live 2 s: each call after the first few obtains new ones
mock_call($mock, 'POST', 'config', { temp_ttl_s => 2 });
foreach my $i (1 .. 4)
{
	is($node->safe_psql('postgres',
			"SELECT status FROM gw_modify_spec('mem-a$i', 'api.s1.medium', server => 'ali')"),
		'accepted', "aliyun call $i");
	is($node->safe_psql('postgres',
			"SELECT status FROM gw_resize('mem-h$i', 'PROFESSIONAL', server => 'hw')"),
		'accepted', "huawei call $i");
	usleep(2_100_000);
}
# everything issued so far is retired once the last calls obtain new sets
my @secrets = @{ mock_call($mock, 'GET', 'credentials?reveal=1', undef)->{secrets} };
ok(@secrets >= 20, scalar(@secrets) . ' secrets were issued and then retired');
is($node->safe_psql('postgres', "SELECT status FROM gw_modify_spec('mem-a9', 'api.s1.medium', server => 'ali')"),
	'accepted', 'a last aliyun call, with a new set');
is($node->safe_psql('postgres', "SELECT status FROM gw_resize('mem-h9', 'PROFESSIONAL', server => 'hw')"),
	'accepted', 'a last huawei call, with a new set');

my $pid = worker_pid($node);
sub worker_memory
{
	my $mem = '';
	open(my $maps, '<', "/proc/$pid/maps") or return undef;
	open(my $fh, '<:raw', "/proc/$pid/mem") or return undef;
	while (my $l = <$maps>)
	{
		my ($from, $to, $perm, $path) = $l =~ /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/;
		next unless $perm =~ /^rw/;
		next if $path ne '' && $path ne '[heap]' && $path !~ /^\[anon/;
		my ($a, $b) = (hex($from), hex($to));
		next if $b - $a > 512 * 1024 * 1024;
		my $buf;
		sysseek($fh, $a, 0) or next;
		my $got = sysread($fh, $buf, $b - $a);
		$mem .= $buf if $got;
	}
	return $mem;
}
my $mem = worker_memory();
SKIP:
{
	skip 'the worker\'s memory cannot be read here', 1 unless defined $mem && length($mem) > 0;
	# a secret found is named by its index in @secrets, never by any of its
	# characters
	my @found;
	foreach my $k (0 .. $#secrets)
	{
		push @found, "#$k" if index($mem, $secrets[$k]) >= 0;
	}
	note(sprintf('%d MB of the worker\'s memory read, %d secrets looked for', length($mem) / 1048576, scalar @secrets));
	is(scalar @found, 0, 'none of the retired secrets is in the worker\'s memory')
	  or diag('found: secrets ' . join(', ', @found) . ' of ' . scalar(@secrets));
}
$node->stop;
done_testing();
