import pytest

from bot.intake.redirect import Redirect, decide, find_redirect


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("楼道里着火了，好多烟", "119"),
        ("快来人啊 厨房起火了", "119"),
        ("电动车电瓶在楼道里烧起来了", "119"),
        ("小区门口有人打架 都见血了", "110"),
        ("有个人拿着刀在超市门口", "110"),
        ("有小偷正在撬我邻居家的门", "110"),
        ("我爸突然晕倒了叫不醒", "120"),
        ("老太太摔倒了起不来，流了很多血", "120"),
        ("孩子抽搐了怎么办快来人", "120"),
        ("三环上追尾了，有人受伤", "122"),
        ("路口两辆车撞了，司机被卡在里面", "122"),
        ("仓库着了，火往外窜", "119"),
        ("锅炉房炸了，玻璃全碎了", "119"),
        ("他拿砖头砸人家脑袋，一直在流血", "110"),
        ("我奶奶突然说话不利索了，嘴也歪了", "120"),
        ("我下班回家屋里有人，门锁被撬了", "110"),
        ("一辆货车在辅路上翻了，司机出不来", "122"),
        ("讨债的堵在我家门口不让我们出门", "110"),
        ("他喝多了还是打我，拦都拦不住", "110"),
        ("我以为老人睡着了，怎么叫都叫不醒", "120"),
        ("我老公经常打我，他现在想杀了我", "110"),
        ("楼下的培训班着火了", "119"),
        ("强劫了强劫了，就在桥底下", "110"),  # 抢劫 as the recogniser writes it
        ("几个人把我们拦在山道上要过路费，手里拿着棒子", "110"),
        ("我让两个人堵在地下通道里要钱", "110"),
        ("那人进了屋就在翻柜子，我躲在卫生间", "110"),
        ("孩子被热油烫了，胳膊一大片", "120"),
        ("马路边躺着个老大爷，就剩一口气了", "120"),
        ("车撞到隔离带上了，车里还有人", "122"),
        ("厨房抽油烟机冒黑烟了", "119"),
        ("饭馆门口的招牌着了，往下掉火星", "119"),
        ("十字路口一辆出租车把过马路的老头撞飞了", "122"),
        ("面包车翻进沟里了，轮子朝天，里面还有人", "122"),
        ("我骑电动车让一辆大货车给别倒了，腿动不了", "122"),
        ("我家两岁的孩子误食了一个纽扣电池", "120"),
        ("奶奶把杀虫剂当饮料，喝了农药了", "120"),
        ("保姆把老人锁在卫生间里了，我在监控里看见的", "110"),
        ("三个自称是燃气公司的人来我家，非要收钱，现在还在屋里", "110"),
        ("楼下几个年轻人打成一团，有个已经挨踹了", "110"),  # 挨踹 is 110, not the 120 of 倒地
        ("我刚才在地铁口被人打了，头上流血了，他还没走", "110"),
        ("有辆黑色轿车一直在后面跟着我，我不敢回家", "110"),
        ("孩子掉进鱼塘了，刚捞上来，不哭了", "120"),
        ("炒菜的时候热油溅了一脸，脸上都起泡了", "120"),
        ("大风把树刮倒了，砸着一个骑车的，人压在树底下", "120"),  # wind, not a car: 120, not 122
        ("从昨天开始我爸就昏迷不醒，现在还叫不醒", "120"),  # a past day, but it still goes on
        ("我被车撞了，对方非要私了，我头晕得厉害", "122"),  # asked to settle is not settled
        ("上个月家里着火了，刚才又有人在楼下拿刀砍人", "110"),  # the fire is dated, the knife is not
        ("水表插卡没反应，我出来一看邻居大爷倒在楼道里叫他没反应", "120"),  # a card, then a person
        ("我爸前天出的院 刚才突然晕倒了", "120"),  # just now, after a past day
        ("气得我脑袋都要炸了 楼下刚才咣的一声 煤气罐炸了", "119"),
        ("我爸昨天刚出院，又晕倒了，快来人啊", "120"),  # a past day before, but a new emergency
        ("昨天晚上喝了农药 现在叫不醒", "120"),
        ("厨房灶台那起活了 扑不灭", "119"),  # 起火 as the recogniser writes it
        ("高架桥上两辆车对撞了", "122"),
        ("路口又出车货了 车轱辘朝天", "122"),
        ("电动三轮跟一辆出租车刮上了 骑车的大爷头破了", "122"),
        ("工头带人把我们几个按地上打", "110"),
        ("我们村的跟邻村的因为浇地干起来了 拿着镐", "110"),
        ("对门两口子又打上了 孩子在哭", "110"),
        ("公园里有个男的把裤子脱了 冲着女学生", "110"),
        ("被狗咬了一口 血一直往外冒 止也止不住", "120"),
        # a grievance turned emergency: "这下好了" before the emergency word is now, not "it is fine now"
        ("车棚的线乱拉我反映过多少回了 没人管 这下好了 电动车着起来了", "119"),
        # words that say "not now" elsewhere do not cancel an emergency told beside them (a review's cases)
        ("我想问问 我儿子从楼梯上摔下来了 叫不醒", "120"),
        ("真的假的 我一出门就看见对面楼着火了", "119"),
        ("新闻说今天路滑 我在四环上 前头好几辆车追尾了 有人受伤", "122"),
        ("我家没着火 是对门着火了 门缝往外冒烟", "119"),
        ("卫生间里老人摔倒了 一直喊救命", "120"),  # a cry for help is 110 only when nothing else is named
        ("我妈上周感冒了 突然喘不上气 嘴唇发紫 快来", "120"),
        ("之前天然气公司来检查过，厨房着火了！", "119"),  # 之前天…, not 前天
        ("你好我想问一下，我爸突然晕倒了叫不醒，怎么办", "120"),
        ("救护车说还要二十分钟才到，人已经没呼吸了", "120"),
        ("出租车司机突然没反应了", "120"),  # 司机 is no machine
        ("孩子吃东西卡住了现在没反应了", "120"),
        ("外头炸了，玻璃都碎了", "119"),  # 外头 is no head
        # the rest of the 20 emergencies a review wrote against the first rules for fresh.jsonl (all but one
        # of which those rules lost; "上个月刚搬来 楼下有人拿刀砍人" is missed by every version: a past day
        # anywhere in a message without a word of now makes it over)
        ("我爸前天做的手术，突然晕倒了，叫不醒，救命啊", "120"),
        ("昨天吵完架，老公喝了农药，快来救救他", "120"),
        ("上周买的电动车，充电的时候起火了，快来人", "119"),
        ("昨天和邻居吵了一架，他拿着刀在我家门口转，快来人啊", "110"),
        ("上周搬的家，东西还没收拾完，楼下着火了，快来", "119"),
        ("我想问一下，我邻居家着火了，冒黑烟，怎么办", "119"),
        ("我问问他哪儿疼他都说不出话了", "120"),
        ("我按他人中他也没反应", "120"),
        ("楼里头炸了", "119"),
        ("油罐车车头炸了", "119"),
        ("他喝多了把窗帘给点着了", "119"),
        ("孩子从阳台上掉下去了", "120"),
        ("爷爷脸都紫了 喘不上来", "120"),
        ("那人拎着一把菜刀在楼道里转", "110"),
        ("醉汉一直在踹我家门", "110"),
        ("公交上有人往乘客包里伸手", "110"),
        ("楼上两口子打得很凶，孩子在哭", "110"),
        ("昨天他来闹过一回，这会儿正踹我家门呢", "110"),  # 这会儿正 is now
        ("楼下两口子这会儿打得很凶", "110"),
        ("另一个孩子已经从三楼掉下去了", "120"),
        ("我妈昨天出的院 今天又喘不上来了", "120"),  # today in the word's own clause
        ("刚才倒车跟后面的车碰上了，还堵在路口", "122"),
        ("路口俩车撞一块了，后面一辆差点也追上去", "122"),  # the near miss is only its own clause
        ("上个月就反映过车棚丢电瓶，今天下楼看见有人蹲那儿剪车锁，还在剪呢", "110"),  # today comes after
        ("烧烤摊那几个喝多了正跟人茬架呢", "110"),
        ("俩人干起来了，椅子都抡起来了", "110"),
        ("我爸正在银行柜台要给骗子转钱，拦都拦不住", "110"),
        ("刚才有人冒充公安让我转了三万到安全账户", "110"),
        ("本来想投诉暖气，结果楼道电箱冒黑烟了，这咋办啊", "119"),
        ("公交站那儿躺着个老人，我喊他他也不理", "120"),
        ("上周反映过这个路口没红绿灯，今天一辆车把护栏撞倒了横在路上", "122"),
        ("我跟人壮车了，俩车还在路口", "122"),
        ("我让右转的车别了一下，我们都在现场等交警来", "122"),
        ("楼上俩人又打起来了，男的拿着菜刀，上礼拜也闹过一回", "110"),  # the earlier day is background
        ("有人在撬我家门，昨天就来过一次", "110"),
        ("我爸晕倒了叫不醒，他前天就说头疼", "120"),
        ("游戏厅里有人打架，把机器都砸了", "110"),  # a game hall is a real place
        ("狗把孩子扑倒咬了，腿上一直往外冒血", "120"),
        ("我爸上个月腿骨折打了石膏，刚才在卫生间又摔倒了，头磕破了一直流血", "120"),  # an old cast
        ("楼下挪车吵起来了，那男的把我老公鼻子打出血了，现在还在楼下", "110"),
    ],
)
def test_emergencies_are_redirected(text, number):
    r = find_redirect(text)
    assert r is not None and r.number == number
    assert r.start < r.end


@pytest.mark.parametrize(
    "text",
    [
        "上周我的电动车被偷了，派出所一直不立案",
        "物业要我手机号干嘛",
        "墙皮都掉了一大片，下雨还往屋里渗水",
        "有人冒充警察打电话骗钱，我没上当",
        "楼道里堆满杂物，电动车飞线充电，有火灾隐患",
        "这个路口老出车祸，建议装个红绿灯",
        "请问灭火器在哪里买",
        "救护车来得太慢了，我要投诉",
        "楼道里有很重的煤气味",
        "电梯困人了，里面有个老人",
        "家里暖气不热",
        "昨天晚上小区里有人打架，吵得睡不着",
        "刚才一辆电动车差点掉进井里",
        "楼上半夜吵得睡不着，你们现在打我电话13800001111",
        "路口的信号灯杆子刚才被车撞歪了",
        "楼下烧烤店一晚上冒烟，熏得家里全是烟",
        "隔壁炒菜呛得跟着火了一样",
        "大火车站门口那个公交站挪哪去了",
        "我妈有心脏病，家里暖气又不热",
        "燃气没气了，打不着火",
        "上回家里进了小偷，现在想装个防盗门，能申请补贴吗",
        "物业在砍我们小区的树",
        "井盖让车压翻了，井口敞着",
        "楼下那俩人还在打麻将，吵到半夜",
        "这个说法根本站不住脚，物业就是不给修",
        "工地晚上十一点了还在打桩",
        "楼上每天晚上都有脚步声，吵得睡不着",
        "小区停车费翻了一倍",
        "冬天太冷，我家水管冻炸了",
        "辛辛苦苦流血流汗干了一年，老板不给工资",
        "跟保洁说了好多次别倒在绿化带里，就是不听",
        "接到一个自称公安的电话说我涉嫌洗钱，我直接挂了",
        "小区门口那条沟里全是垃圾，没人清",
        "这几天头疼得要炸了，哪个医院看头疼好",
        "大风把小区的树刮倒了，压在车上了",
        "刚才路口两辆车剐蹭了，已经拍完照挪到路边了，下一步找谁定损",  # settled, though just now
        "刚才楼下有人打起来了，现在已经散了",
        "看见有人打架，我该打110还是打你们这儿",
        "上个月我们家厨房着火了 东西全烧了 现在一家人只能住亲戚家",  # the now is the aftermath
        "前两天在路口剐蹭了，当场私了了，现在那人又来要钱",
        "上周楼道里电动车着火了，虽然灭了，可现在还有人往楼里推车",
        "有个小卖部在偷着卖烟花爆竹",
        "电卡充完钱插表里没反应，家里一直没电",  # a card, not a person
        "门口那个工地天天半夜施工，我头都要炸了",
        "前天我妈在菜市场摔了一跤，腿骨折了，现在出院了想问问能不能请护工",  # dated by the clause before
        "我儿子昨天在学校被打了，鼻子流血，老师也不管",
        "每年一到春天柳絮一飞我就喘不过气，哪家医院看过敏好",  # habitual
        "上礼拜我妈摔了 叫的救护车半个多小时才到 这速度谁受得了",  # dated by the clause before
        "刚才在路口两辆车蹭了一下，人都没受伤，各走各的了",
        "听说咱们楼有人家进贼了，物业也不说一声",  # hearsay
        "今天骑车碰上了修路，绕了好大一圈",  # 碰上了 without a car hitting a car
        "孩子的玩具从阳台掉下去了，一楼不给开门",
        "冻得脸都紫了，暖气还不热",
        "这房贷压得人喘不上来，公积金能提取吗",
        "孩子拎着冰棍在小区里跑",
        "这个路口经常出车祸，今天又堵死了",
        "一帮人打牌打得很吵，半夜也不停",
        "孩子往书包里摸了半天没找到公交卡",
        "我把窗帘点了个收藏，结果商家一直给我打推销电话",
        "差点没命，一辆渣土车撞了过来，擦着我过去了",
        "刚才差点被一辆电动车撞倒，吓死我了",
        "孩子在游戏里跟人打架打到半夜，网吧还让未成年人进",
        "刚才接了个电话让我转到安全账户，我没转就挂了",
        "半年前我被抢了包，抓到人了，可钱到现在也没退",  # the last day named is the earlier one
        "今天想问一下，去年家里着火的保险怎么理赔",
        "车锁让人剪了，车没了，昨天的事",
        "前段时间楼里着火了，今天楼道里的垃圾物业还没清",  # today comes after the emergency's clause
        "前几天，楼下两辆车撞上了，今天护栏还没修",
        "小区电动车都在楼道里充电，万一着火了可咋办啊",
        "隔壁工地夜里十一点又干起来了，电锯吵得睡不着",
        "有人往河里倒垃圾，喊他不理",
        "货车在胡同里倒车堵着路，喊司机也不理",
        "孩子体育课上摔骨折了，现在已经打上石膏了，学校不管医药费",  # treated: over
        "我家电动车让人剪了锁推走了，前几天小区也丢过一辆",
        "开锁公司的人剪了锁收了我五百",
        "孩子被开水烫伤了，昨天下午也去医院看了，想问问学校管不管",
        "楼下饭馆天天熏腊肉，一股烧焦味",
        "消防栓让人圈自家院里了，真着火了都用不上",
        "想问问电动车电池起火以后有啥新规",
        "网上视频说东四那边着火了，真的假的",
        "工地和白天一样，夜里又干起来了",
        "电视剧里有人一直喊救命，吵得我睡不着",
        "拿镐刨了半天冰，路口还是滑",
    ],
)
def test_no_false_redirect(text):
    assert find_redirect(text) is None


NONE = {"none": 0.97, "110": 0.01, "119": 0.01, "120": 0.005, "122": 0.005}
FIRE = {"none": 0.1, "110": 0.05, "119": 0.7, "120": 0.1, "122": 0.05}
UNSURE = {"none": 0.75, "110": 0.05, "119": 0.1, "120": 0.05, "122": 0.05}


def test_model_alone_redirects_with_its_number():
    assert decide("快来人", None, FIRE) == Redirect("119", 0, 0)


def test_rule_needs_some_model_support():
    rule = Redirect("120", 3, 5)
    assert decide("快来人", rule, NONE) is None
    assert decide("快来人", rule, UNSURE) == rule


def test_rule_names_the_number_when_both_agree_on_an_emergency():
    rule = Redirect("122", 0, 2)
    assert decide("快来人", rule, FIRE) == rule


def test_nothing_without_rule_or_model():
    assert decide("快来人", None, UNSURE) is None


def test_model_alone_does_not_call_smoke_from_a_barbecue_a_fire():
    assert decide("楼下烧烤摊的烟全飘进屋了", None, FIRE) is None
    assert decide("楼下烧烤摊着火了", None, FIRE) == Redirect("119", 0, 0)


def test_model_alone_does_not_call_touts_grabbing_passers_by_an_assault():
    assault = {"none": 0.1, "110": 0.8, "119": 0.03, "120": 0.04, "122": 0.03}
    assert decide("前门大街上有人揽客，拉着游客胳膊往店里拽", None, assault) is None
    assert decide("有人拉着一个小孩往车里拽", None, assault) == Redirect("110", 0, 0)
    pushing = "几个拉客的把游客围住了，还推搡人家"
    assert decide(pushing, find_redirect(pushing), assault) == Redirect("110", 13, 15)  # 推搡


def test_model_alone_does_not_call_a_car_blocked_in_a_crash():
    crash = {"none": 0.2, "110": 0.02, "119": 0.02, "120": 0.06, "122": 0.7}
    assert decide("有辆面包车把我的车堵在车位里了，找不到车主挪车", None, crash) is None
    assert decide("两辆车在路口怼一块了，后面的车都堵着呢", None, crash) == Redirect("122", 0, 0)
    assert decide("两辆车在路口怼一块了，司机出不来", None, crash) == Redirect("122", 0, 0)


def test_model_alone_does_not_redirect_a_near_miss():
    crash = {"none": 0.2, "110": 0.02, "119": 0.02, "120": 0.06, "122": 0.7}
    assert decide("刚才过马路差点让车带倒", None, crash) is None


def test_model_alone_leaves_hazards_12345_keeps_at_urgency_1():
    assault = {"none": 0.1, "110": 0.8, "119": 0.03, "120": 0.04, "122": 0.03}
    assert decide("商场的直梯困人了，里面有个老太太", None, assault) is None  # a lift: urgency 1, not 110
    assert decide("厨房燃气灶关了还是有一股味", None, FIRE) is None  # gas smell: the gas company
    assert decide("燃气灶怎么也打不着，火苗小得可怜", None, FIRE) is None
    fire = "电梯井里冒黑烟了，里面还困着人"
    rule = find_redirect(fire)
    assert rule is not None and decide(fire, rule, FIRE) == rule  # an emergency word still counts


def test_model_alone_cannot_redirect_what_is_over():
    assert decide("昨晚我妈喘不上气，救护车上的人态度特别差", None, FIRE) is None


def test_model_alone_does_not_redirect_what_did_not_catch_fire():
    assert decide("电表箱冒火花还有焦糊味，没着火，就是吓人", None, FIRE) is None


def test_model_alone_cannot_redirect_a_story_of_an_earlier_day():
    crash = {"none": 0.3, "110": 0.02, "119": 0.02, "120": 0.06, "122": 0.6}
    assert decide("前天楼下两辆车撞了，有人受伤了，今天路口那摊碎玻璃还没人扫", None, crash) is None
    # "不是现在" denies the now it names
    assert decide("我们家上个月着火了 不是现在啊 是上个月 政府有没有救助", None, FIRE) is None


def test_model_alone_does_not_read_an_idiom_or_a_blocked_car_as_an_emergency():
    fire = {"none": 0.35, "110": 0.04, "119": 0.4, "120": 0.17, "122": 0.04}
    assert decide("孩子入园的事火烧眉毛了，愁死我了", None, fire) is None
    crime = {"none": 0.28, "110": 0.45, "119": 0.03, "120": 0.04, "122": 0.2}
    assert decide("我的车被别人的车堵在车位里了，打电话也不接", None, crime) is None
    assert decide("孩子在网吧跟人在游戏里打架打得嗷嗷叫，网吧还让未成年人进", None, crime) is None
